import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { XCom, XComError, type XComRecord } from '@xcom/core'
import { testRecord, testReference } from '@xcom/testing'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { metadataStoreFactory, SCHEMA_VERSION, SqliteMetadataStore } from '../src/index.ts'
import { sqlitePathFromUrl } from '../src/url.ts'

const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-'))
let files = 0
const newPath = () => join(dir, `store-${++files}`, 'xcom.db')
const open: { close(): unknown }[] = []
const track = <T extends { close(): unknown }>(handle: T): T => {
  open.push(handle)
  return handle
}
afterEach(async () => {
  for (const handle of open.splice(0)) await handle.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A new database file holding `record`, written by a store that is closed again. */
async function fileWith(record: XComRecord): Promise<string> {
  const path = newPath()
  const store = new SqliteMetadataStore({ path })
  await store.put(record)
  await store.close()
  return path
}

const rejectsWith = (code: XComError['code']) => (error: unknown) => XComError.is(error, code)
const identity = { dagId: 'dag', runId: 'run', taskId: 'task', mapIndex: -1, key: 'return_value' }

describe('opening a database', () => {
  it('creates parent directories, switches to WAL and records the schema version', async () => {
    const path = newPath()
    const store = track(new SqliteMetadataStore({ path }))
    expect(store.location).toBe(path)
    await store.put(testRecord({}))
    const raw = track(new DatabaseSync(path))
    expect(raw.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
    const versions = raw.prepare('SELECT version, package_version FROM xcom_schema').all()
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    expect(versions.map((row) => ({ ...row }))).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, index) => ({
        version: index + 1,
        package_version: version,
      })),
    )
  })

  it('reopens a database it created without migrating again, keeping its rows', async () => {
    const record = testReference({})
    const path = await fileWith(record)
    const second = track(new SqliteMetadataStore({ path }))
    expect(await second.get(identity)).toEqual(record)
    const raw = track(new DatabaseSync(path))
    expect(raw.prepare('SELECT count(*) AS n FROM xcom_schema').get()).toEqual({ n: SCHEMA_VERSION })
  })

  it('refuses a database written by a newer version with E_CONFIG, changing nothing', async () => {
    const record = testRecord({})
    const path = await fileWith(record)
    const raw = track(new DatabaseSync(path))
    raw
      .prepare('INSERT INTO xcom_schema (version, package_version, applied_at) VALUES (?, ?, ?)')
      .run(99, '9.9.9', 1)
    let error: unknown
    try {
      new SqliteMetadataStore({ path })
    } catch (caught) {
      error = caught
    }
    expect(XComError.is(error, 'E_CONFIG')).toBe(true)
    expect((error as Error).message).toMatch(
      /schema version 99.*@xcom\/sqlite 9\.9\.9.*upgrade @xcom\/sqlite to 9\.9\.9/,
    )
    expect(raw.prepare('SELECT max(version) AS v FROM xcom_schema').get()).toEqual({ v: 99 })
    expect(
      raw
        .prepare('SELECT id FROM xcom_record')
        .all()
        .map((row) => row.id),
    ).toEqual([record.id])
  })

  it('refuses a database holding a foreign table of the same name with E_CONFIG, changing nothing', () => {
    const path = join(dir, 'foreign.db')
    const raw = track(new DatabaseSync(path))
    raw.exec("CREATE TABLE xcom_record (anything TEXT); INSERT INTO xcom_record VALUES ('kept')")
    expect(() => new SqliteMetadataStore({ path })).toThrow(expect.objectContaining({ code: 'E_CONFIG' }))
    expect(
      raw
        .prepare('SELECT anything FROM xcom_record')
        .all()
        .map((row) => row.anything),
    ).toEqual(['kept'])
    expect(raw.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'xcom_schema%'").all()).toEqual([])
  })

  it('refuses a file that is not an SQLite database with E_CORRUPT, leaving it unchanged', () => {
    const path = join(dir, 'not-a-db.db')
    const content = 'this is a text file, not a database\n'.repeat(200)
    writeFileSync(path, content)
    expect(() => new SqliteMetadataStore({ path })).toThrow(expect.objectContaining({ code: 'E_CORRUPT' }))
    expect(readFileSync(path, 'utf8')).toBe(content)
  })

  it('fails with E_CONFIG when the parent directory cannot be created', () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, 'x')
    expect(() => new SqliteMetadataStore({ path: join(file, 'xcom.db') })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    )
    expect(readFileSync(file, 'utf8')).toBe('x')
  })

  it('fails with E_CONFIG when given neither path nor database, or an invalid busy timeout, creating nothing', () => {
    expect(() => new SqliteMetadataStore({} as never)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }))
    const path = newPath()
    for (const busyTimeoutMs of [-1, 1.5, Number.NaN]) {
      expect(() => new SqliteMetadataStore({ path, busyTimeoutMs })).toThrow(
        expect.objectContaining({ code: 'E_CONFIG' }),
      )
    }
    expect(existsSync(path)).toBe(false)
  })

  it('uses a database the caller opened, and leaves it open on close', async () => {
    const db = track(new DatabaseSync(':memory:'))
    const store = new SqliteMetadataStore({ database: db })
    expect(store.location).toBe(':memory:')
    const record = testRecord({})
    await store.put(record)
    await store.close()
    expect(db.prepare('SELECT id FROM xcom_record').get()).toEqual({ id: record.id })
  })
})

describe('identity()', () => {
  it('is a random id created with the database, described by its absolute path, the same after reopening', async () => {
    const path = newPath()
    const first = new SqliteMetadataStore({ path })
    const identity = await first.identity()
    expect(identity.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    expect(identity.description).toBe(`sqlite://${path}`)
    expect(await first.identity()).toEqual(identity)
    await first.close()
    expect(await track(new SqliteMetadataStore({ path })).identity()).toEqual(identity)
    const other = await track(new SqliteMetadataStore({ path: newPath() })).identity()
    expect(other.id).not.toBe(identity.id)
    const memory = track(new SqliteMetadataStore({ path: ':memory:' }))
    expect((await memory.identity()).description).toBe('sqlite://:memory:')
  })
})

describe('failures while running', () => {
  it('fails a write with E_BACKEND when another process holds the write lock, writing nothing', async () => {
    const path = newPath()
    const store = track(new SqliteMetadataStore({ path, busyTimeoutMs: 20 }))
    const before = testRecord({})
    await store.put(before)
    const other = track(new DatabaseSync(path))
    other.exec('BEGIN IMMEDIATE')
    await expect(store.put(testRecord({}))).rejects.toSatisfy(rejectsWith('E_BACKEND'))
    await expect(store.delete({ dagId: 'dag' })).rejects.toSatisfy(rejectsWith('E_BACKEND'))
    // Readers are not blocked by a writer in WAL mode.
    expect(await store.get(identity)).toEqual(before)
    other.exec('ROLLBACK')
    expect(await store.getMany({})).toEqual([before])
    const after = testRecord({})
    expect(await store.put(after)).toEqual(before)
  })

  it('fails writes to a read-only database with E_PERMISSION_DENIED, losing nothing', async () => {
    const record = testReference({})
    const path = await fileWith(record)
    const readOnly = track(
      new SqliteMetadataStore({ database: track(new DatabaseSync(path, { readOnly: true })) }),
    )
    await expect(readOnly.put(testRecord({}))).rejects.toSatisfy(rejectsWith('E_PERMISSION_DENIED'))
    await expect(readOnly.delete({ dagId: 'dag' })).rejects.toSatisfy(rejectsWith('E_PERMISSION_DENIED'))
    expect(await readOnly.getMany({})).toEqual([record])
    expect(await readOnly.pendingPurges(10)).toEqual([])
  })

  it('keeps rows consistent between two stores sharing one file', async () => {
    const path = newPath()
    const a = track(new SqliteMetadataStore({ path }))
    const b = track(new SqliteMetadataStore({ path }))
    const first = testReference({})
    const second = testRecord({})
    await a.put(first)
    expect(await b.put(second)).toEqual(first)
    expect(await a.get(identity)).toEqual(second)
    expect((await a.pendingPurges(10)).map((purge) => purge.id)).toEqual([first.id])
  })
})

describe('metadataStoreFactory', () => {
  it('reads relative, absolute and in-memory URLs', () => {
    expect(sqlitePathFromUrl('sqlite://.xcom/xcom.db', '/srv/app')).toBe('/srv/app/.xcom/xcom.db')
    expect(sqlitePathFromUrl('sqlite:///var/lib/xcom.db', '/srv/app')).toBe('/var/lib/xcom.db')
    expect(sqlitePathFromUrl('SQLITE://data/my%20db.db', '/srv')).toBe('/srv/data/my db.db')
    expect(sqlitePathFromUrl('sqlite://:memory:')).toBe(':memory:')
  })

  it('opens the store a URL names, creating parent directories', async () => {
    const path = join(dir, 'from-url', 'nested', 'xcom.db')
    const store = track(await metadataStoreFactory(`sqlite://${path}`))
    expect(store.location).toBe(path)
    await store.put(testRecord({}))
    expect(existsSync(path)).toBe(true)
  })

  it('is what XCom.fromEnv uses for XCOM_METADATA_URL=sqlite://', async () => {
    const path = join(dir, 'from-env', 'xcom.db')
    const xcom = track(await XCom.fromEnv({ XCOM_METADATA_URL: `sqlite://${path}` }))
    expect(xcom.metadata).toBeInstanceOf(SqliteMetadataStore)
    await xcom.push({ dagId: 'd', runId: 'r', taskId: 't' }, { rows: [1, 2, 3] })
    expect(await xcom.pull({ dagId: 'd', runId: 'r', taskId: 't' })).toEqual({ rows: [1, 2, 3] })
    const report = await xcom.clear({ dagId: 'd' })
    expect(report.deleted).toBe(1)
  })
})
