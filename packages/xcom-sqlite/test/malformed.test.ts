import { DatabaseSync } from 'node:sqlite'
import { XCom, XComError, type XComKey, type XComRecord } from '@xcom/core'
import { testRecord, testReference } from '@xcom/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SqliteMetadataStore } from '../src/index.ts'

/** How row `b` (a reference) is damaged, and whether its value can still be decoded. */
const DAMAGE: { set: string; malformed: boolean }[] = [
  { set: "ref = '{not json'", malformed: true },
  { set: `ref = '"just a string"'`, malformed: true },
  { set: "ref = '[1, 2]'", malformed: true },
  { set: "ref = '42'", malformed: true },
  { set: `ref = '{"uri": 5}'`, malformed: true },
  { set: "ref = x'7b7d'", malformed: true },
  { set: "ref = CAST(x'ff7b' AS TEXT)", malformed: true },
  { set: 'ref = NULL', malformed: true },
  { set: "kind = 'weird'", malformed: true },
  { set: "kind = x'01'", malformed: true },
  { set: "kind = 'inline', ref = NULL, data = NULL", malformed: true },
  { set: "kind = 'inline', ref = NULL, data = x'00'", malformed: true },
  { set: 'size = -5', malformed: true },
  { set: 'size = 9223372036854775807', malformed: true },
  { set: 'size = -9223372036854775808', malformed: true },
  { set: "size = 'abc'", malformed: true },
  { set: "size = '0x10'", malformed: true },
  { set: 'size = 1.5', malformed: true },
  { set: "size = x'05'", malformed: true },
  { set: "map_index = 'abc'", malformed: true },
  { set: 'map_index = 2.5', malformed: true },
  { set: 'map_index = 9223372036854775807', malformed: true },
  { set: "map_index = x'03'", malformed: true },
  { set: "id = x'ff'", malformed: true },
  { set: "task_id = x'62'", malformed: true },
  { set: "dag_id = x'00'", malformed: true },
  { set: "id = CAST(x'ff00' AS TEXT)", malformed: false },
  { set: "key = CAST(x'c3' AS TEXT)", malformed: false },
  { set: "created_at = 'yesterday'", malformed: false },
  { set: "created_at = x'00'", malformed: false },
  { set: 'created_at = 9223372036854775807', malformed: false },
  { set: 'created_at = 1e308', malformed: false },
  { set: "expires_at = 'soon'", malformed: false },
  { set: "expires_at = x'00'", malformed: false },
  { set: 'expires_at = -9223372036854775808', malformed: false },
]

const keyOf = (record: XComRecord): XComKey => ({
  dagId: record.dagId,
  runId: record.runId,
  taskId: record.taskId,
  mapIndex: record.mapIndex,
  key: record.key,
})
const validDate = (date: unknown) => date instanceof Date && Number.isFinite(date.getTime())

let db: DatabaseSync
let store: SqliteMetadataStore
beforeEach(() => {
  db = new DatabaseSync(':memory:')
  store = new SqliteMetadataStore({ database: db })
  // Damage that the CHECK constraints would refuse: what another tool, an old bug or a bad restore can leave.
  db.exec('PRAGMA ignore_check_constraints = ON')
})
afterEach(async () => {
  await store.close()
  db.close()
})

describe('rows xcom cannot decode', () => {
  it.each(DAMAGE)(
    '$set: every read path returns them, delete removes them, their purge resolves',
    async ({ set, malformed }) => {
      const [a, b, c] = [
        testRecord({ taskId: 'a' }),
        testReference({ taskId: 'b' }),
        testRecord({ taskId: 'c' }),
      ]
      for (const record of [a, b, c]) await store.put(record)
      db.exec(`UPDATE xcom_record SET ${set} WHERE task_id = 'b'`)

      const listed: XComRecord[] = []
      let after: string | undefined
      do {
        expect(listed.length).toBeLessThan(10) // a cursor that does not advance would loop for ever
        const page = await store.list({}, { limit: 1, after })
        listed.push(...page.records)
        after = page.next
      } while (after !== undefined)
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

      const queued = Number(
        db.prepare("SELECT count(*) AS n FROM xcom_record WHERE kind = 'reference'").get()?.n,
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
})

describe('damaged rows of the purge queue', () => {
  it('returns rows whose id or times cannot be read as malformed records, and resolves them by the id it gives', async () => {
    await store.put(testReference({ taskId: 'x' }))
    await store.put(testRecord({ taskId: 'x' }))
    const columns = 'id, dag_id, run_id, task_id, map_index, key, kind, ref, size, created_at, queued_at'
    for (const values of [
      `NULL, 'd', 'r', 't', -1, 'k', 'reference', '{"uri":"u"}', 1, 1, 5`,
      `x'00ff', 'd', 'r', 't', -1, 'k', 'reference', '{"uri":"u"}', 1, 1, 'later'`,
      `CAST(x'ff' AS TEXT), 'd', 'r', 't', -1, 'k', 'reference', '{"uri":"u"}', 1, 1, x'00'`,
      `'plain', x'01', 'r', 't', 9223372036854775807, 'k', 'reference', '{}', 'many', 'then', 9223372036854775807`,
    ])
      db.exec(`INSERT INTO xcom_pending_purge (${columns}) VALUES (${values})`)
    const pending = await store.pendingPurges(100)
    expect(pending).toHaveLength(5)
    const damaged = pending.filter((purge) => purge.record.value.kind === 'malformed')
    expect(damaged).toHaveLength(4)
    for (const purge of pending) expect(validDate(purge.queuedAt)).toBe(true)
    expect(pending.filter((purge) => purge.id.startsWith('xcom-unreadable-id:'))).toHaveLength(3)
    await store.resolvePurges(damaged.map((purge) => purge.id))
    expect((await store.pendingPurges(100)).map((purge) => purge.record.value.kind)).toEqual(['reference'])
    // A made-up id names its row and its bytes: it never resolves another row.
    await store.resolvePurges(['xcom-unreadable-id:1:text:', 'xcom-unreadable-id:999:blob:00FF'])
    expect(await store.pendingPurges(100)).toHaveLength(1)
  })
})

describe('list cursors', () => {
  it('page over damaged keys exactly, rejecting typed cursors that are not well formed', async () => {
    for (const taskId of ['a', 'b', 'c', 'd', 'e']) await store.put(testRecord({ taskId }))
    db.exec("UPDATE xcom_record SET task_id = CAST(x'62ff' AS TEXT) WHERE task_id = 'b'")
    db.exec("UPDATE xcom_record SET map_index = 1.25 WHERE task_id = 'c'")
    db.exec("UPDATE xcom_record SET dag_id = x'00' WHERE task_id = 'd'")
    db.exec("UPDATE xcom_record SET key = 'k', map_index = 'text' WHERE task_id = 'e'")
    for (const query of [{}, { dagId: 'dag' }, { dagId: 'dag', runId: 'run' }]) {
      const seen: string[] = []
      let after: string | undefined
      do {
        expect(seen.length).toBeLessThan(10) // a cursor that does not advance would loop for ever
        const page = await store.list(query, { limit: 1, after })
        seen.push(...page.records.map((record) => record.id))
        after = page.next
      } while (after !== undefined)
      expect(seen).toEqual((await store.getMany(query)).map((record) => record.id))
    }
    for (const cursor of [
      { k: [['text', 'zz']] },
      { k: [1, 2, 3, 4, 5] },
      { k: Array(5).fill(['real', '00']) },
    ]) {
      const after = Buffer.from(JSON.stringify(cursor)).toString('base64url')
      await expect(store.list({}, { limit: 1, after })).rejects.toSatisfy((error) =>
        XComError.is(error, 'E_INVALID_KEY'),
      )
    }
  })
})
