import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type MetadataStore, type ObjectStore, XCom, XComError } from '@xcom/core'
import { CLAIM_KEY, FileObjectStore, isObjectKey, ObjectStoreXComBackend } from '@xcom/objectstore'
import { PostgresMetadataStore } from '@xcom/postgres'
import { S3ObjectStore } from '@xcom/s3'
import { SqliteMetadataStore } from '@xcom/sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_URL, usePostgres, useS3rver } from './services.ts'

const ID = { dagId: 'etl', runId: 'r1', taskId: 'extract' }
const big = (seed: string) => ({ seed, rows: Array.from({ length: 2000 }, (_, index) => `${seed}-${index}`) })

async function rejection(promise: Promise<unknown>, code: string): Promise<XComError> {
  const error = await promise.then(
    () => new Error(`expected ${code}`),
    (reason: unknown) => reason,
  )
  expect(XComError.is(error), String(error)).toBe(true)
  expect((error as XComError).code, (error as Error).message).toBe(code)
  return error as XComError
}

async function valueKeys(store: ObjectStore): Promise<string[]> {
  const keys: string[] = []
  for await (const info of store.list('')) if (isObjectKey(info.objectKey)) keys.push(info.objectKey)
  return keys.sort()
}

/**
 * The scenario that lost data: database A offloads values under a prefix, database B is pointed at the same prefix.
 * B must be refused (naming both databases) and nothing B does may delete A's objects, even with the claim gone.
 */
async function twoDatabasesOnOnePrefix(
  openA: () => MetadataStore,
  openB: () => MetadataStore,
  openStore: () => ObjectStore,
): Promise<void> {
  const a = new XCom({
    metadata: openA(),
    backend: new ObjectStoreXComBackend({ store: openStore(), threshold: 0 }),
  })
  const b = new XCom({
    metadata: openB(),
    backend: new ObjectStoreXComBackend({ store: openStore(), threshold: 0 }),
  })
  const raw = openStore()
  try {
    await a.push(ID, big('a1'))
    await a.push({ ...ID, taskId: 'transform' }, big('a2'))
    const before = await valueKeys(raw)
    expect(before).toHaveLength(2)

    const refused = await rejection(b.push(ID, big('b')), 'E_CONFIG')
    const [idA, idB] = [await a.metadata.identity(), await b.metadata.identity()]
    expect(idA.id).not.toBe(idB.id)
    for (const text of [idA.id, idB.id, idA.description, idB.description])
      expect(refused.message).toContain(text)
    await rejection(b.gc({ graceMs: 0 }), 'E_CONFIG')
    expect(await valueKeys(raw)).toEqual(before)

    // Even with the claim deleted (by hand, or a store racing two first writes), B's sweep keeps A's objects.
    await raw.deleteMany([CLAIM_KEY])
    const sweep = (await b.gc({ graceMs: 0 })).sweep
    expect(sweep).toMatchObject({ deleted: 0, foreign: 2 })
    expect(await valueKeys(raw)).toEqual(before)
    expect(await a.pull(ID)).toEqual(big('a1'))
    expect(await a.pull({ ...ID, taskId: 'transform' })).toEqual(big('a2'))
  } finally {
    await Promise.all([a.close(), b.close(), raw.close?.()])
  }
}

describe('two metadata databases on one prefix', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'xcom-shared-prefix-'))
    dirs.push(dir)
    return dir
  }

  it('two SQLite files on one file:// directory: the second is refused and sweeps nothing of the first', async () => {
    const dir = tempDir()
    await twoDatabasesOnOnePrefix(
      () => new SqliteMetadataStore({ path: join(dir, 'a.db') }),
      () => new SqliteMetadataStore({ path: join(dir, 'b.db') }),
      () => new FileObjectStore({ root: join(dir, 'objects') }),
    )
  })

  describe('SQLite and PostgreSQL on one s3rver bucket', () => {
    const s3 = useS3rver()
    const postgres = usePostgres()
    let schema = ''
    beforeAll(() => {
      schema = `xcom_it_${randomUUID().replaceAll('-', '').slice(0, 12)}`
    })
    afterAll(async () => {
      if (postgres()) await postgres()?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    })

    it('refuses the second database and never deletes the first one’s objects', async (ctx) => {
      const target = s3()
      if (!target || !postgres()) return ctx.skip()
      const prefix = `shared-${randomUUID()}`
      await twoDatabasesOnOnePrefix(
        () => new SqliteMetadataStore({ path: join(tempDir(), 'a.db') }),
        () => new PostgresMetadataStore({ connectionString: POSTGRES_URL, schema }),
        () => new S3ObjectStore({ ...target, prefix }),
      )
    })
  })
})
