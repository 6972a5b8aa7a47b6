import { XComError } from '@xcom/core'
import { testRecord, testReference } from '@xcom/testing'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { readIdentity } from '../src/identity.ts'
import { PostgresMetadataStore, SCHEMA_VERSION } from '../src/index.ts'
import { MIGRATIONS, schemaTableDdl } from '../src/schema.ts'
import {
  admin,
  describePostgres,
  dropChecks,
  dropSchema,
  newSchemaName,
  POSTGRES_URL,
} from './support/postgres.ts'

describe('the description of a database', () => {
  it('names user, host, port, database and a schema other than public; escapes sockets, brackets IPv6', async () => {
    const describeWith = async (connection: object, schema: string) => {
      const client = {
        query: async () => ({ rows: [{ id: 'abc' }] }),
        ...connection,
      } as unknown as pg.PoolClient
      return (await readIdentity(client, `"${schema}"`, schema, 'postgres://...')).description
    }
    const connection = {
      user: 'air flow',
      host: 'db.internal',
      port: 6432,
      database: 'airflow',
      password: 'pw',
    }
    expect(await describeWith(connection, 'public')).toBe('postgres://air%20flow@db.internal:6432/airflow')
    expect(await describeWith(connection, 'xcom')).toBe(
      'postgres://air%20flow@db.internal:6432/airflow?schema=xcom',
    )
    expect(await describeWith({ ...connection, host: '/var/run/postgresql' }, 'public')).toBe(
      'postgres://air%20flow@%2Fvar%2Frun%2Fpostgresql:6432/airflow',
    )
    expect(await describeWith({ ...connection, host: '::1' }, 'public')).toBe(
      'postgres://air%20flow@[::1]:6432/airflow',
    )
  })
})

describePostgres('identity()', () => {
  const schemas: string[] = []
  const stores: PostgresMetadataStore[] = []
  /** A store on a new schema (or `options.schema`), closed after the test; its schema is dropped after the file. */
  const newStore = (options: ConstructorParameters<typeof PostgresMetadataStore>[0] = {}) => {
    const schema = options.schema ?? newSchemaName()
    if (!schemas.includes(schema)) schemas.push(schema)
    const store = new PostgresMetadataStore({ connectionString: POSTGRES_URL, ...options, schema })
    stores.push(store)
    return store
  }
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
  })
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(schema)
  })
  const url = new URL(POSTGRES_URL)
  const where = `${url.username}@${url.hostname}:${url.port || 5432}${url.pathname}`

  it('is a random id created with the schema, described without the password, the same after reopening', async () => {
    // The local server trusts loopback connections, so a made-up password is accepted (and must not be shown).
    const withPassword = new URL(POSTGRES_URL)
    withPassword.password ||= 'xcom-test-secret'
    const store = newStore({ connectionString: withPassword.toString() })
    const identity = await store.identity()
    expect(identity.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    expect(identity.description).toBe(`postgres://${where}?schema=${store.schema}`)
    expect(identity.description).not.toContain(withPassword.password)
    expect(await store.identity()).toEqual(identity)
    expect(await newStore({ schema: store.schema }).identity()).toEqual(identity)
    expect((await newStore().identity()).id).not.toBe(identity.id)
  })

  it('describes a store on a pool it was given the same way', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL })
    try {
      const store = newStore({ pool, connectionString: undefined })
      expect((await store.identity()).description).toBe(`postgres://${where}?schema=${store.schema}`)
    } finally {
      await pool.end()
    }
  })

  it('is created once when several stores open one new schema at the same moment', async () => {
    const schema = newSchemaName()
    const racers = Array.from({ length: 6 }, () => newStore({ schema }))
    const identities = await Promise.all(racers.map((store) => store.identity()))
    expect(new Set(identities.map((identity) => identity.id)).size).toBe(1)
    expect(await admin(`SELECT count(*)::int AS n FROM "${schema}".xcom_database`)).toEqual([{ n: 1 }])
  })

  it('migrates a version 1 schema: its rows and purges survive, and it gets an identity', async () => {
    const schema = newSchemaName()
    schemas.push(schema)
    const s = `"${schema}"`
    await admin(`CREATE SCHEMA ${s}; ${schemaTableDdl(s)}; ${(MIGRATIONS[0] as (s: string) => string)(s)}`)
    await admin(`INSERT INTO ${s}.xcom_schema (version, package_version) VALUES (1, '0.1.0')`)
    const inline = testRecord({ taskId: 'inline' }, { expiresAt: new Date('2031-01-01T00:00:00Z') })
    const reference = testReference({ taskId: 'ref', mapIndex: 3 })
    const replaced = testReference({ taskId: 'ref', mapIndex: 3 })
    // Version 1's own replace function writes the rows, and queues the replaced reference.
    for (const record of [inline, replaced, reference]) {
      await admin(`SELECT * FROM ${s}.xcom_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
        record.dagId,
        record.runId,
        record.taskId,
        record.mapIndex,
        record.key,
        record.id,
        record.value.kind,
        record.value.kind === 'inline' ? record.value.data : null,
        record.value.kind === 'reference' ? JSON.stringify(record.value.ref) : null,
        record.value.size,
        record.createdAt.toISOString(),
        record.expiresAt?.toISOString() ?? null,
      ])
    }
    const store = newStore({ schema })
    const identity = await store.identity()
    expect(identity.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    expect(await store.getMany({})).toEqual([inline, reference])
    expect((await store.pendingPurges(10)).map((purge) => purge.record)).toEqual([replaced])
    expect(await admin(`SELECT version FROM ${s}.xcom_schema ORDER BY version`)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, index) => ({ version: index + 1 })),
    )
    expect(await newStore({ schema }).identity()).toEqual(identity)
  })

  it('is created again when its row was deleted, and refused with E_CORRUPT when it was damaged', async () => {
    const store = newStore()
    const before = await store.identity()
    await admin(`DELETE FROM "${store.schema}".xcom_database`)
    const after = await newStore({ schema: store.schema }).identity()
    expect(after.id).not.toBe(before.id)
    await dropChecks(store.schema)
    for (const id of ['has spaces', '', 'x'.repeat(65)]) {
      await admin(`UPDATE "${store.schema}".xcom_database SET id = $1`, [id])
      await expect(newStore({ schema: store.schema }).identity()).rejects.toSatisfy(
        (error) => XComError.is(error, 'E_CORRUPT') && (error as Error).message.includes('xcom_database'),
      )
    }
  })
})
