import { XCom, XComError, type XComKey, type XComRecord } from '@xcom/core'
import { testRecord, testReference } from '@xcom/testing'
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest'
import { PostgresMetadataStore } from '../src/index.ts'
import {
  admin,
  describePostgres,
  dropChecks,
  dropSchema,
  newSchemaName,
  POSTGRES_URL,
} from './support/postgres.ts'

/** How row `b` (a reference) is damaged, and whether its value can still be decoded. */
const DAMAGE: { set: string; malformed: boolean }[] = [
  { set: `ref = '"just a string"'`, malformed: true },
  { set: `ref = to_jsonb('{"uri": "memory://x"}'::text)`, malformed: true },
  { set: "ref = '[1, 2]'", malformed: true },
  { set: "ref = '42'", malformed: true },
  { set: "ref = 'null'::jsonb", malformed: true },
  { set: `ref = '{"uri": 5}'`, malformed: true },
  { set: "ref = (repeat('[', 2000) || repeat(']', 2000))::jsonb", malformed: true },
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
  { set: "created_at = 'infinity'", malformed: false },
  { set: "created_at = '-infinity'", malformed: false },
  { set: "created_at = '294276-12-31'", malformed: false },
  { set: "created_at = '4713-01-01 BC'", malformed: false },
  { set: "expires_at = 'infinity'", malformed: false },
  { set: "expires_at = '-infinity'", malformed: false },
  { set: "expires_at = '294276-12-31'", malformed: false },
]

const keyOf = (record: XComRecord): XComKey => ({
  dagId: record.dagId,
  runId: record.runId,
  taskId: record.taskId,
  mapIndex: record.mapIndex,
  key: record.key,
})
const validDate = (date: unknown) => date instanceof Date && Number.isFinite(date.getTime())

describePostgres('rows xcom cannot decode', () => {
  const schema = newSchemaName()
  const s = `"${schema}"`
  let store: PostgresMetadataStore
  beforeEach(async () => {
    store = new PostgresMetadataStore({ connectionString: POSTGRES_URL, schema })
    await store.ready()
    await admin(`TRUNCATE ${s}.xcom_record, ${s}.xcom_pending_purge`)
    // Damage that the CHECK constraints would refuse: what another tool, an old bug or a bad restore can leave.
    await dropChecks(schema)
  })
  afterEach(() => store.close())
  afterAll(() => dropSchema(schema))

  it.each(DAMAGE)(
    '$set: every read path returns them, delete removes them, their purge resolves',
    async ({ set, malformed }) => {
      const [a, b, c] = [
        testRecord({ taskId: 'a' }),
        testReference({ taskId: 'b' }),
        testRecord({ taskId: 'c' }),
      ]
      for (const record of [a, b, c]) await store.put(record)
      await admin(`UPDATE ${s}.xcom_record SET ${set} WHERE task_id = 'b'`)

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

      const [{ n: queued }] = (await admin(
        `SELECT count(*)::int AS n FROM ${s}.xcom_record WHERE kind = 'reference'`,
      )) as [{ n: number }]
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

  it('reads damaged rows of the purge queue as malformed records with valid times, and resolves them', async () => {
    const columns = 'id, dag_id, run_id, task_id, map_index, key, kind, ref, size, created_at, queued_at'
    for (const values of [
      `'p1', 'd', 'r', 't', -1, 'k', 'reference', '"text"', 1, now(), 'infinity'`,
      `'p2', 'd', 'r', 't', 9223372036854775807, 'k', 'reference', '{"uri":"u"}', -1, '-infinity', '294276-12-31'`,
      `'p3', 'd', 'r', 't', -1, 'k', 'reference', NULL, 1, now(), now()`,
    ])
      await admin(`INSERT INTO ${s}.xcom_pending_purge (${columns}) VALUES (${values})`)
    const pending = await store.pendingPurges(100)
    expect(pending.map((purge) => purge.record.value.kind)).toEqual(['malformed', 'malformed', 'malformed'])
    for (const purge of pending) expect(validDate(purge.queuedAt)).toBe(true)
    await store.resolvePurges(pending.map((purge) => purge.id))
    expect(await store.pendingPurges(100)).toEqual([])
  })

  it('pages exactly over map indexes beyond 2^53, and rejects typed cursors that are not well formed', async () => {
    for (const taskId of ['a', 'b', 'c', 'd']) await store.put(testRecord({ taskId }))
    await admin(`UPDATE ${s}.xcom_record SET map_index = 9007199254740993 WHERE task_id = 'b'`)
    await admin(`UPDATE ${s}.xcom_record SET map_index = 9223372036854775807 WHERE task_id = 'c'`)
    await admin(`UPDATE ${s}.xcom_record SET task_id = 'b', map_index = 9007199254740992 WHERE task_id = 'd'`)
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
    for (const cursor of [{ k: ['a', 'b', 'c', '1.5', 'd'] }, { k: ['a', 'b', 'c', '1'] }]) {
      const after = Buffer.from(JSON.stringify(cursor)).toString('base64url')
      await expect(store.list({}, { limit: 1, after })).rejects.toSatisfy((error) =>
        XComError.is(error, 'E_INVALID_KEY'),
      )
    }
  })
})
