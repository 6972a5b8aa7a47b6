/*
 * Cases every SQL metadata store of this project passes beyond the conformance suite: rows damaged under the store
 * (by another tool, an old bug, a bad restore), list cursors over damaged keys, migrating a version 1 database, a
 * damaged identity. The store's test gives a harness reaching its raw database; the cases are the same for all.
 */
import { type MetadataStore, XCom, XComError, type XComKey, type XComRecord } from '@xcom/core'
import { encodeCursor } from '@xcom/core/adapter'
import { describe, expect, it } from 'vitest'
import { testRecord, testReference } from './metadata-store.ts'
import { countRows, identity, type SqlStoreHarness, tracked } from './sql-harness.ts'
import { expectXComError } from './test-data.ts'

/** The damage each database can hold, in its own SQL. */
export interface SqlDamage {
  /**
   * `SET` clauses damaging row `b` (a reference) in ways only this database can, and whether its value can no longer
   * be decoded; the cases also run the damage every SQL database can hold.
   */
  rows: readonly { set: string; malformed: boolean }[]
  /**
   * Rows of `xcom_pending_purge` that cannot be read as xcom wrote them: the SQL values of the columns `id, dag_id,
   * run_id, task_id, map_index, key, kind, ref, size, created_at, queued_at`.
   */
  purges: readonly string[]
  /** How many of `purges` get an id made up by the store because their own cannot be read back. @default 0 */
  unreadablePurgeIds?: number
  /** Statements damaging the keys of rows `b` to `e` (of `a` to `e`), which paging must go over exactly. */
  keys: readonly string[]
  /** Cursors (before base64url encoding) the store must refuse with `E_INVALID_KEY`. */
  invalidCursors: readonly unknown[]
  /** Ids (SQL values) beyond text ones that a damaged identity may hold. */
  identityIds?: readonly string[]
}

/** Damage of row `b` (a reference) in SQL every database runs, and whether its value can no longer be decoded. */
const COMMON_DAMAGE = [
  { set: `ref = '"just a string"'`, malformed: true },
  { set: "ref = '[1, 2]'", malformed: true },
  { set: "ref = '42'", malformed: true },
  { set: `ref = '{"uri": 5}'`, malformed: true },
  { set: 'ref = NULL', malformed: true },
  { set: "kind = 'weird'", malformed: true },
  { set: "kind = ''", malformed: true },
  { set: "kind = 'inline', ref = NULL, data = NULL", malformed: true },
  { set: 'size = -5', malformed: true },
  { set: 'size = 9223372036854775807', malformed: true },
  { set: 'size = -9223372036854775808', malformed: true },
  { set: 'map_index = 9223372036854775807', malformed: true },
  { set: 'map_index = -9223372036854775808', malformed: true },
  { set: 'map_index = -7', malformed: false },
  { set: "task_id = '', id = ''", malformed: false },
]

const keyOf = ({ dagId, runId, taskId, mapIndex, key }: XComKey): XComKey => ({
  dagId,
  runId,
  taskId,
  mapIndex,
  key,
})
const validDate = (date: unknown) => date instanceof Date && Number.isFinite(date.getTime())
const invalidKey = (error: unknown) => XComError.is(error, 'E_INVALID_KEY')

/** Every page of `query`, one record at a time, checking the cursor moves on. */
async function listAll(store: MetadataStore, query: object, limit = 1): Promise<XComRecord[]> {
  const records: XComRecord[] = []
  let after: string | undefined
  do {
    expect(records.length).toBeLessThan(20) // a cursor that does not advance would loop for ever
    const page = await store.list(query, { limit, after })
    records.push(...page.records)
    after = page.next
  } while (after !== undefined)
  return records
}

/**
 * The SQL metadata store cases (see the top of this file): every read path over damaged rows, damaged purges and
 * keys, keyset paging in code-point order, page limits, closed stores, malformed URLs given to the factory, migration
 * from version 1, a deleted or damaged identity.
 */
export function describeSqlMetadataStore<S extends MetadataStore>(
  name: string,
  harness: SqlStoreHarness<S>,
  damage: SqlDamage,
): void {
  describe(`SQL metadata store: ${name}`, () => {
    const track = tracked(harness)
    const open = () => track(harness.open())
    const sql = harness.sql.bind(harness)

    it.each([...COMMON_DAMAGE, ...damage.rows])(
      '$set: every read path returns them, delete removes them, their purge resolves',
      async ({ set, malformed }) => {
        const store = await open()
        const [a, b, c] = [
          testRecord({ taskId: 'a' }),
          testReference({ taskId: 'b' }),
          testRecord({ taskId: 'c' }),
        ]
        for (const record of [a, b, c]) await store.put(record)
        await sql(store, `UPDATE xcom_record SET ${set} WHERE task_id = 'b'`)

        const listed = await listAll(store, {})
        expect(listed).toEqual(await store.getMany({}))
        expect(listed.map((record) => record.id)).toEqual(expect.arrayContaining([a.id, c.id]))
        expect(listed).toHaveLength(3)
        const damaged = listed.find((record) => record.id !== a.id && record.id !== c.id) as XComRecord
        expect(damaged.value.kind).toBe(malformed ? 'malformed' : 'reference')
        if (damaged.value.kind === 'malformed') expect(damaged.value.reason).toMatch(/\w/)
        expect(validDate(damaged.createdAt)).toBe(true)
        expect(damaged.expiresAt === undefined || validDate(damaged.expiresAt)).toBe(true)

        const got = await store.get(keyOf(b))
        expect(got === undefined || got.id === damaged.id).toBe(true)
        if (got?.value.kind === 'malformed') {
          const error = await new XCom({ metadata: store }).pull(keyOf(b)).catch((caught: unknown) => caught)
          expect(XComError.is(error, 'E_CORRUPT')).toBe(true)
          expect((error as XComError).xcom).toContain('b')
        }

        const queued = await countRows(() =>
          sql(store, "SELECT count(*) AS n FROM xcom_record WHERE kind = 'reference'"),
        )
        expect((await store.delete({})).map((record) => record.id).sort()).toEqual(
          listed.map((r) => r.id).sort(),
        )
        expect(await store.getMany({})).toEqual([])
        const pending = await store.pendingPurges(10)
        expect(pending).toHaveLength(queued)
        for (const purge of pending) {
          expect(purge.id).toBe(purge.record.id)
          expect(validDate(purge.queuedAt)).toBe(true)
        }
        await store.resolvePurges(pending.map((purge) => purge.id))
        expect(await store.pendingPurges(10)).toEqual([])
      },
    )

    it('reads damaged rows of the purge queue as malformed records with valid times, and resolves them by the ids it gives', async () => {
      const store = await open()
      await store.put(testReference({ taskId: 'x' }))
      await store.put(testRecord({ taskId: 'x' }))
      const columns = 'id, dag_id, run_id, task_id, map_index, key, kind, ref, size, created_at, queued_at'
      for (const values of damage.purges)
        await sql(store, `INSERT INTO xcom_pending_purge (${columns}) VALUES (${values})`)
      const pending = await store.pendingPurges(100)
      expect(pending).toHaveLength(damage.purges.length + 1)
      const damaged = pending.filter((purge) => purge.record.value.kind === 'malformed')
      expect(damaged).toHaveLength(damage.purges.length)
      for (const purge of pending) expect(validDate(purge.queuedAt)).toBe(true)
      expect(pending.filter((purge) => purge.id.startsWith('xcom-unreadable-id:'))).toHaveLength(
        damage.unreadablePurgeIds ?? 0,
      )
      await store.resolvePurges(damaged.map((purge) => purge.id))
      expect((await store.pendingPurges(100)).map((purge) => purge.record.value.kind)).toEqual(['reference'])
      // A made-up id names its row and its bytes: it never resolves another row.
      await store.resolvePurges(['xcom-unreadable-id:1:text:', 'xcom-unreadable-id:999:blob:00FF'])
      expect(await store.pendingPurges(100)).toHaveLength(1)
    })

    it('pages over damaged keys exactly, and refuses cursors it did not make', async () => {
      const store = await open()
      for (const taskId of ['a', 'b', 'c', 'd', 'e']) await store.put(testRecord({ taskId }))
      for (const statement of damage.keys) await sql(store, statement)
      for (const query of [{}, { dagId: 'dag' }, { dagId: 'dag', runId: 'run' }]) {
        const ids = (await listAll(store, query)).map((record) => record.id)
        expect(ids).toEqual((await store.getMany(query)).map((record) => record.id))
      }
      for (const cursor of damage.invalidCursors) {
        const after = Buffer.from(JSON.stringify(cursor)).toString('base64url')
        await expect(store.list({}, { limit: 1, after })).rejects.toSatisfy(invalidKey)
      }
    })

    it('pages within a run, and reads cursors from other DAGs in code-point order', async () => {
      const store = await open()
      for (const dagId of ['a', '\uff5e', '😀']) {
        for (let mapIndex = 0; mapIndex < 5; mapIndex++) await store.put(testRecord({ dagId, mapIndex }))
      }
      const run = { dagId: '😀', runId: 'run' }
      expect(await listAll(store, run, 2)).toEqual(await store.getMany(run))
      const cursorIn = (dagId: string) => encodeCursor({ ...identity, dagId, mapIndex: 2 })
      // U+FF5E sorts before U+1F600 by code point (though not by UTF-16 code unit): every row of 😀 follows its cursor.
      expect(
        (await store.list({ dagId: '😀' }, { limit: 10, after: cursorIn('\uff5e') })).records,
      ).toHaveLength(5)
      expect((await store.list({ dagId: '\uff5e' }, { limit: 10, after: cursorIn('😀') })).records).toEqual(
        [],
      )
      expect(
        (await store.list({ dagId: '\uff5e', runId: 'run' }, { limit: 10, after: cursorIn('\uff5e') }))
          .records,
      ).toHaveLength(2)
    })

    it('refuses a page limit that is not a positive integer with E_INVALID_KEY', async () => {
      const store = await open()
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        await expect(store.list({}, { limit })).rejects.toSatisfy(invalidKey)
      }
    })

    it('fails every call after close with E_BACKEND', async () => {
      const store = await open()
      await store.getMany({})
      await store.close()
      await store.close()
      await expect(store.get(identity)).rejects.toSatisfy((error) => XComError.is(error, 'E_BACKEND'))
      await expect(store.put(testRecord({}))).rejects.toSatisfy((error) => XComError.is(error, 'E_BACKEND'))
      await expect(store.list({}, { limit: 0 })).rejects.toSatisfy(invalidKey)
    })

    it('opens nothing for a malformed URL: E_CONFIG naming XCOM_METADATA_URL and an example, never a password', async () => {
      const { create, malformedUrls, example } = harness.factory
      for (const url of malformedUrls) {
        const { message } = await expectXComError(create(url), 'E_CONFIG')
        expect(message).toContain('XCOM_METADATA_URL')
        expect(message).toContain(example)
        expect(message).not.toContain('s3cret')
      }
    })

    it('migrates a version 1 database: its rows and purges survive, and it gets an identity', async () => {
      const inline = testRecord({ taskId: 'inline' }, { expiresAt: new Date('2031-01-01T00:00:00Z') })
      const replaced = testReference({ taskId: 'ref', mapIndex: 3 })
      const reference = testReference({ taskId: 'ref', mapIndex: 3 })
      const store = await track(harness.openVersion1([inline, reference], [replaced]))
      const { id } = await store.identity()
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
      expect(await store.getMany({})).toEqual([inline, reference])
      expect((await store.pendingPurges(10)).map((purge) => purge.record)).toEqual([replaced])
      const versions = await sql(store, 'SELECT version FROM xcom_schema ORDER BY version')
      expect(versions.map((row) => Number(row.version))).toEqual(
        Array.from({ length: harness.schemaVersion }, (_, index) => index + 1),
      )
      expect((await (await track(harness.reopen(store))).identity()).id).toBe(id)
    })

    it('creates its identity again when its row was deleted, and refuses a damaged one with E_CORRUPT', async () => {
      const store = await open()
      const before = await store.identity()
      await sql(store, 'DELETE FROM xcom_database')
      const reopen = () => track(harness.reopen(store))
      const after = await (await reopen()).identity()
      expect(after.id).not.toBe(before.id)
      expect(await (await reopen()).identity()).toEqual(after)
      for (const id of [
        "'has spaces'",
        "''",
        `'${'x'.repeat(65)}'`,
        "'a/b'",
        ...(damage.identityIds ?? []),
      ]) {
        await sql(store, `UPDATE xcom_database SET id = ${id}`)
        await expect((await reopen()).identity()).rejects.toSatisfy(
          (error) => XComError.is(error, 'E_CORRUPT') && (error as Error).message.includes('xcom_database'),
        )
      }
    })
  })
}
