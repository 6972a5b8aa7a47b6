import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { XComError } from '@xcom/core'
import { testRecord, testReference } from '@xcom/testing'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { SCHEMA_VERSION, SqliteMetadataStore } from '../src/index.ts'
import { MIGRATIONS, SCHEMA_TABLE_DDL } from '../src/schema.ts'

const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-identity-'))
let files = 0
const newPath = () => join(dir, `${++files}`, 'xcom.db')
const open: { close(): unknown }[] = []
const track = <T extends { close(): unknown }>(handle: T): T => {
  open.push(handle)
  return handle
}
afterEach(async () => {
  for (const handle of open.splice(0)) await handle.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

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

  it('migrates a version 1 database: its rows and purges survive, and it gets an identity', async () => {
    const path = newPath()
    const inline = testRecord({ taskId: 'inline' }, { expiresAt: new Date('2031-01-01T00:00:00Z') })
    const reference = testReference({ taskId: 'ref', mapIndex: 3 })
    const replaced = testReference({ taskId: 'gone' })
    mkdirSync(dirname(path), { recursive: true })
    const raw = track(new DatabaseSync(path))
    raw.exec(SCHEMA_TABLE_DDL)
    raw.exec(MIGRATIONS[0] as string)
    raw
      .prepare('INSERT INTO xcom_schema (version, package_version, applied_at) VALUES (1, ?, 1)')
      .run('0.1.0')
    const insert = (table: string, record: typeof inline, extra: number[] = []) =>
      raw
        .prepare(
          `INSERT INTO ${table} (dag_id, run_id, task_id, map_index, key, id, kind, data, ref, size, created_at, expires_at${extra.length ? ', queued_at' : ''}) VALUES (${Array(
            12 + extra.length,
          )
            .fill('?')
            .join(', ')})`,
        )
        .run(
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
          record.createdAt.getTime(),
          record.expiresAt?.getTime() ?? null,
          ...extra,
        )
    insert('xcom_record', inline)
    insert('xcom_record', reference)
    insert('xcom_pending_purge', replaced, [1_700_000_000_000])

    const store = track(new SqliteMetadataStore({ path }))
    const identity = await store.identity()
    expect(identity.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    expect(await store.getMany({})).toEqual([inline, reference])
    expect((await store.pendingPurges(10)).map((purge) => purge.record)).toEqual([replaced])
    expect(
      raw
        .prepare('SELECT version FROM xcom_schema ORDER BY version')
        .all()
        .map((row) => row.version),
    ).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, index) => index + 1))
    expect(await track(new SqliteMetadataStore({ path })).identity()).toEqual(identity)
  })

  it('is created again when its row was deleted, and refused with E_CORRUPT when it was damaged', async () => {
    const path = newPath()
    const store = track(new SqliteMetadataStore({ path }))
    const before = await store.identity()
    const raw = track(new DatabaseSync(path))
    raw.exec('DELETE FROM xcom_database')
    const after = await store.identity()
    expect(after.id).not.toBe(before.id)
    expect(await store.identity()).toEqual(after)
    for (const id of ["'has spaces'", "''", `'${'x'.repeat(65)}'`, "x'00'", "'a/b'"]) {
      raw.exec(`UPDATE xcom_database SET id = ${id}`)
      await expect(store.identity()).rejects.toSatisfy(
        (error) => XComError.is(error, 'E_CORRUPT') && (error as Error).message.includes('xcom_database'),
      )
    }
  })
})
