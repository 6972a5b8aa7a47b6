import { XCom, XComError } from '@xcom/core'
import { compareKeys } from '@xcom/core/adapter'
import { testRecord, testReference } from '@xcom/testing'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { readIdentity } from '../src/identity.ts'
import { metadataStoreFactory, PostgresMetadataStore, SCHEMA_VERSION } from '../src/index.ts'
import { postgresOptionsFromUrl } from '../src/url.ts'
import { admin, describePostgres, dropSchema, newSchemaName, POSTGRES_URL } from './support/postgres.ts'

const identity = { dagId: 'dag', runId: 'run', taskId: 'task', mapIndex: -1, key: 'return_value' }
const rejectsWith = (code: XComError['code']) => (error: unknown) => XComError.is(error, code)
const { version: packageVersion } = (await import('../package.json', { with: { type: 'json' } })).default

/** A URL for the test server with other credentials or database. */
function urlWith(change: { username?: string; password?: string; pathname?: string; port?: string }): string {
  const url = new URL(POSTGRES_URL)
  Object.assign(url, change)
  return url.toString()
}

describe('postgresOptionsFromUrl', () => {
  it('passes the URL to pg and takes the schema from ?schema=', () => {
    expect(postgresOptionsFromUrl('postgres://u@h:5432/db')).toEqual({
      connectionString: 'postgres://u@h:5432/db',
    })
    expect(postgresOptionsFromUrl('postgresql://u:p@h/db?schema=xcom&sslmode=disable')).toEqual({
      connectionString: 'postgresql://u:p@h/db?sslmode=disable',
      schema: 'xcom',
    })
  })

  it('rejects invalid pool options with E_CONFIG', () => {
    for (const options of [
      { max: 0 },
      { statementTimeoutMs: -1 },
      { connectTimeoutMs: 1.5 },
      { connectionString: POSTGRES_URL, pool: new pg.Pool() },
    ]) {
      expect(() => new PostgresMetadataStore({ connectionString: POSTGRES_URL, ...options })).toThrow(
        expect.objectContaining({ code: 'E_CONFIG' }),
      )
    }
  })

  it('rejects a schema name that is not a plain identifier with E_CONFIG', () => {
    for (const schema of ['x"; DROP TABLE y; --', '1abc', 'a-b', 'a'.repeat(64)]) {
      expect(() => new PostgresMetadataStore({ connectionString: POSTGRES_URL, schema })).toThrow(
        expect.objectContaining({ code: 'E_CONFIG' }),
      )
    }
  })
})

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

describePostgres('PostgresMetadataStore on a real server', () => {
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

  it('creates the schema, its tables and the recorded version on first use', async () => {
    const store = newStore()
    await store.put(testRecord({}))
    const versions = await admin(
      `SELECT version, package_version FROM "${store.schema}".xcom_schema ORDER BY version`,
    )
    expect(versions).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, index) => ({
        version: index + 1,
        package_version: packageVersion,
      })),
    )
    const collations = await admin(
      `SELECT column_name, collation_name FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'xcom_record' AND column_name IN ('dag_id', 'run_id', 'task_id', 'key')`,
      [store.schema],
    )
    expect(collations.map((row) => row.collation_name)).toEqual(['C', 'C', 'C', 'C'])
  })

  it('orders identifiers by code point, like SQLite and compareKeys', async () => {
    const store = newStore()
    const taskIds = ['b', 'B', 'é', 'z', '_', 'a b', 'ab', 'Z', '10', '9', '漢']
    for (const taskId of taskIds) await store.put(testRecord({ taskId }))
    const expected = taskIds.map((taskId) => ({ ...identity, taskId })).sort(compareKeys)
    expect((await store.getMany({ dagId: 'dag' })).map((r) => r.taskId)).toEqual(
      expected.map((k) => k.taskId),
    )
  })

  it('migrates once when several stores open one new schema at the same time', async () => {
    const schema = newSchemaName()
    const racers = Array.from({ length: 4 }, () => newStore({ schema }))
    await Promise.all(racers.map((store) => store.ready()))
    expect(await admin(`SELECT count(*)::int AS n FROM "${schema}".xcom_schema`)).toEqual([
      { n: SCHEMA_VERSION },
    ])
    await racers[0]?.put(testRecord({}))
    expect(await racers[3]?.get(identity)).toBeDefined()
  })

  it('refuses a schema written by a newer version with E_CONFIG, changing nothing', async () => {
    const schema = newSchemaName()
    const record = testReference({})
    await newStore({ schema }).put(record)
    await admin(`INSERT INTO "${schema}".xcom_schema (version, package_version) VALUES (99, '9.9.9')`)
    const newer = newStore({ schema })
    let error: unknown
    try {
      await newer.get(identity)
    } catch (caught) {
      error = caught
    }
    expect(XComError.is(error, 'E_CONFIG')).toBe(true)
    expect((error as Error).message).toMatch(
      /version 99.*@xcom\/postgres 9\.9\.9.*upgrade @xcom\/postgres to 9\.9\.9/,
    )
    await expect(newer.put(testRecord({}))).rejects.toSatisfy(rejectsWith('E_CONFIG'))
    expect(await admin(`SELECT id FROM "${schema}".xcom_record`)).toEqual([{ id: record.id }])
    expect(await admin(`SELECT max(version) AS v FROM "${schema}".xcom_schema`)).toEqual([{ v: 99 }])
  })

  it('refuses a schema holding a foreign table of the same name with E_CONFIG, changing nothing', async () => {
    const schema = newSchemaName()
    schemas.push(schema)
    await admin(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".xcom_record (anything text)`)
    await admin(`INSERT INTO "${schema}".xcom_record VALUES ('kept')`)
    await expect(newStore({ schema }).ready()).rejects.toSatisfy(rejectsWith('E_CONFIG'))
    expect(await admin(`SELECT anything FROM "${schema}".xcom_record`)).toEqual([{ anything: 'kept' }])
    expect(await admin('SELECT to_regclass($1) AS t', [`"${schema}".xcom_schema`])).toEqual([{ t: null }])
  })

  it('answers put, a 10,000-value getMany and resolvePurges with one statement each', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL })
    const schema = newSchemaName()
    const store = newStore({ pool, schema, connectionString: undefined })
    await store.ready()
    let statements = 0
    const query = pool.query.bind(pool)
    pool.query = ((...args: Parameters<typeof query>) => {
      statements++
      return query(...args)
    }) as typeof pool.query
    for (let mapIndex = 0; mapIndex < 20; mapIndex++) await store.put(testRecord({ mapIndex }))
    expect(statements).toBe(20)
    statements = 0
    const many = await store.getMany({
      dagId: 'dag',
      runId: 'run',
      taskId: ['task', 'other'],
      mapIndex: Array.from({ length: 10_000 }, (_, i) => i),
    })
    expect(many).toHaveLength(20)
    expect(statements).toBe(1)
    const reference = testReference({ mapIndex: 0 })
    await store.put(reference)
    await store.put(testRecord({ mapIndex: 0 }))
    expect((await store.pendingPurges(10)).map((purge) => purge.id)).toEqual([reference.id])
    statements = 0
    await store.resolvePurges([reference.id])
    expect(statements).toBe(1)
    expect(await store.pendingPurges(10)).toEqual([])
    await store.close()
    // The caller's pool is left open.
    expect(await pool.query('SELECT 1 AS one')).toMatchObject({ rows: [{ one: 1 }] })
    await pool.end()
  })

  it('reads the URL from XCOM_METADATA_URL when given none', async () => {
    const previous = process.env.XCOM_METADATA_URL
    process.env.XCOM_METADATA_URL = POSTGRES_URL
    try {
      const store = new PostgresMetadataStore({ schema: newSchemaName() })
      schemas.push(store.schema)
      stores.push(store)
      expect(store.url).toBe(POSTGRES_URL)
      await store.put(testRecord({}))
      expect(await store.get(identity)).toBeDefined()
    } finally {
      if (previous === undefined) delete process.env.XCOM_METADATA_URL
      else process.env.XCOM_METADATA_URL = previous
    }
  })

  it('fails a statement that exceeds statementTimeoutMs with E_BACKEND, writing nothing', async () => {
    // Migrated first: under load, creating the schema can itself take longer than 100 ms.
    const schema = newSchemaName()
    await newStore({ schema }).ready()
    const store = newStore({ schema, statementTimeoutMs: 100 })
    const before = testRecord({})
    await store.put(before)
    const locker = new pg.Client({ connectionString: POSTGRES_URL })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      await locker.query(`LOCK TABLE "${store.schema}".xcom_record IN ACCESS EXCLUSIVE MODE`)
      let error: unknown
      try {
        await store.put(testRecord({}))
      } catch (caught) {
        error = caught
      }
      expect(XComError.is(error, 'E_BACKEND')).toBe(true)
      expect((error as Error).message).toContain('statementTimeoutMs')
      await locker.query('ROLLBACK')
    } finally {
      await locker.end()
    }
    expect(await store.getMany({})).toEqual([before])
    expect(await store.pendingPurges(10)).toEqual([])
  })

  it('fails E_BACKEND, not the process, when the backend of a client it took from the pool is terminated', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL })
    pool.on('error', () => {}) // idle clients: the caller's pool, the caller's listener
    const store = newStore({ pool, connectionString: undefined })
    await store.ready()
    const connect = pool.connect.bind(pool)
    try {
      // The backend is gone before the store uses the client; its socket's news (the server's goodbye, then the
      // close) is held back until the store has the client in hand, so it arrives while the client is out.
      pool.connect = (async () => {
        const client = await connect()
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
        const socket = (client as unknown as { connection: { stream: import('node:net').Socket } }).connection
          .stream
        socket.pause()
        await admin('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
        while ((await admin('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [rows[0]?.pid])).length > 0)
          await new Promise((resolve) => setTimeout(resolve, 10))
        setImmediate(() => socket.resume())
        return client
      }) as typeof pool.connect
      await expect(store.identity()).rejects.toSatisfy(rejectsWith('E_BACKEND'))
      pool.connect = connect
      expect((await store.identity()).id).toMatch(/^[0-9a-f-]{36}$/) // the next call connects again
    } finally {
      pool.connect = connect
      await store.close()
      await pool.end()
    }
  })

  it('fails with E_BACKEND naming the masked URL when the server cannot be reached', async () => {
    const url = urlWith({ username: 'someone', password: 's3cret', port: '1' })
    const store = new PostgresMetadataStore({ connectionString: url, connectTimeoutMs: 2000 })
    let error: unknown
    try {
      await store.get(identity)
    } catch (caught) {
      error = caught
    }
    await store.close()
    expect(XComError.is(error, 'E_BACKEND')).toBe(true)
    expect((error as Error).message).toContain('someone:***@')
    expect((error as Error).message).not.toContain('s3cret')
    await expect(metadataStoreFactory(url)).rejects.toSatisfy(
      (caught) => XComError.is(caught, 'E_BACKEND') && !(caught as Error).message.includes('s3cret'),
    )
  })

  it('fails with E_PERMISSION_DENIED for an unknown role and E_CONFIG for a missing database', async () => {
    const role = newStore({ connectionString: urlWith({ username: 'xcom_no_such_role' }) })
    await expect(role.ready()).rejects.toSatisfy(rejectsWith('E_PERMISSION_DENIED'))
    const database = newStore({ connectionString: urlWith({ pathname: '/xcom_no_such_database' }) })
    await expect(database.ready()).rejects.toSatisfy(rejectsWith('E_CONFIG'))
  })

  it('fails with E_PERMISSION_DENIED when the role may not write, losing nothing', async () => {
    const owner = newStore()
    const record = testReference({})
    await owner.put(record)
    const role = `xcom_test_reader_${process.pid}`
    await admin(`DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN`)
    try {
      await admin(
        `GRANT USAGE ON SCHEMA "${owner.schema}" TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA "${owner.schema}" TO ${role}`,
      )
      const reader = newStore({ connectionString: urlWith({ username: role }), schema: owner.schema })
      expect(await reader.get(identity)).toEqual(record)
      await expect(reader.put(testRecord({}))).rejects.toSatisfy(rejectsWith('E_PERMISSION_DENIED'))
      await expect(reader.delete({ dagId: 'dag' })).rejects.toSatisfy(rejectsWith('E_PERMISSION_DENIED'))
      await reader.close()
      expect(await owner.getMany({})).toEqual([record])
      expect(await owner.pendingPurges(10)).toEqual([])
    } finally {
      await admin(`DROP OWNED BY ${role}; DROP ROLE ${role}`)
    }
  })

  const server = new URL(POSTGRES_URL)
  const where = `${server.username}@${server.hostname}:${server.port || 5432}${server.pathname}`

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

  it('is what XCom.fromEnv uses for XCOM_METADATA_URL=postgres://...?schema=', async () => {
    const schema = newSchemaName()
    schemas.push(schema)
    const url = new URL(POSTGRES_URL)
    url.searchParams.set('schema', schema)
    const xcom = await XCom.fromEnv({ XCOM_METADATA_URL: url.toString() })
    try {
      expect(xcom.metadata).toBeInstanceOf(PostgresMetadataStore)
      expect((xcom.metadata as PostgresMetadataStore).schema).toBe(schema)
      await xcom.push({ dagId: 'd', runId: 'r', taskId: 't' }, { rows: [1, 2, 3] })
      expect(await xcom.pull({ dagId: 'd', runId: 'r', taskId: 't' })).toEqual({ rows: [1, 2, 3] })
      expect((await xcom.clear({ dagId: 'd' })).deleted).toBe(1)
    } finally {
      await xcom.close()
    }
  })
})
