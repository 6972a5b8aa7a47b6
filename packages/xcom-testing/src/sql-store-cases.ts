/*
 * Cases every SQL metadata store of this project passes beyond the conformance suite: rows damaged under the store
 * (by another tool, an old bug, a bad restore), list cursors over damaged keys, migrating a version 1 database, a
 * damaged identity. The store's test gives a harness reaching its raw database; the cases are the same for all. Also
 * the benchmark loop both stores' benches share.
 */
import {
  type MetadataStore,
  type MetadataStoreFactory,
  XCom,
  type XComBackend,
  XComError,
  type XComKey,
  type XComRecord,
} from '@xcom/core'
import { encodeCursor } from '@xcom/core/adapter'
import type fc from 'fast-check'
import type { Arbitrary } from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { expectDamagedRowsHandled } from './damaged-rows.ts'
import { testRecord, testReference } from './metadata-store.ts'
import { expectXComError } from './test-data.ts'

/** A SQL metadata store's database as the cases reach it, beside the store. */
export interface SqlStoreHarness<S extends MetadataStore> {
  /** A new, empty store on a database (a file, a schema) of its own. The cases close every store they get. */
  open(): S | Promise<S>
  /** Another store on the database of `store` (still open), as another process would open it. */
  reopen(store: S): S | Promise<S>
  /**
   * A store on a new database that a version 1 store wrote: `records` as rows, and the purges of `replaced` queued
   * (each was replaced by the record of the same identity in `records`). Opening it migrates the database.
   */
  openVersion1(records: readonly XComRecord[], replaced: readonly XComRecord[]): S | Promise<S>
  /**
   * Runs one SQL statement on the database of `store`, outside the store, with CHECK constraints off (the damage
   * another tool can do); tables are named without a schema. Returns its rows.
   */
  sql(store: S, statement: string): Promise<Record<string, unknown>[]>
  /** The schema version the package writes. */
  schemaVersion: number
  /** The package's `metadataStoreFactory`, and what its refusals of a malformed URL must name. */
  factory: {
    create: MetadataStoreFactory
    /** Malformed URLs; any password in them is `s3cret`. */
    malformedUrls: readonly string[]
    /** The example URL the refusal gives. */
    example: string
  }
  /** Runs after each test, once the cases closed their stores: removes every database made since its last call. */
  cleanup?(): void | Promise<void>
}

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

const identity: XComKey = { dagId: 'dag', runId: 'run', taskId: 'task', mapIndex: -1, key: 'return_value' }
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

async function countRows(sql: () => Promise<Record<string, unknown>[]>): Promise<number> {
  return Number((await sql())[0]?.n)
}

/** The stores a describe block opened, closed after each test before the harness cleans up. */
function tracked<S extends MetadataStore>(harness: SqlStoreHarness<S>) {
  const stores: S[] = []
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    await harness.cleanup?.()
  })
  return async <T extends S>(store: T | Promise<T>): Promise<T> => {
    const opened = await store
    stores.push(opened)
    return opened
  }
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

/** How one column of one pushed row is damaged: `V` is a column value, `D` what `add` adds. */
export type ColumnChange<V, D> =
  | { op: 'set'; to: V }
  | { op: 'copy'; from: number }
  | { op: 'truncate'; at: number }
  | { op: 'field'; field: string; to: unknown }
  | { op: 'add'; delta: D }

/** One damage of a run of {@link describeDamagedRowsFuzz}: `row` indexes the pushed rows. */
export interface RowDamage<V, D> {
  row: number
  column: string
  change: ColumnChange<V, D>
}

/** What {@link describeDamagedRowsFuzz} needs beyond the harness. */
export interface DamagedRowsFuzz<S extends MetadataStore, V, D> {
  /** fast-check, given by the test so that this package has no runtime dependency on it. */
  fc: typeof fc
  /** Any value of any column, for `set` changes and inserted rows. */
  value: Arbitrary<V>
  /** What an `add` change adds to a number (or, in days, to a time). */
  delta: Arbitrary<D>
  /** The columns of `xcom_record`, in the order inserted rows give their values. */
  columns: readonly string[]
  /** The backend of every run's XCom: values over 16 bytes must leave the database (they become references). */
  backend(): XComBackend
  /**
   * Applies `changes` to the pushed rows (row i holds task `taskIds[i]`) and inserts `rows`; what the database refuses
   * (a failed cast, NOT NULL, a duplicate key) is skipped. Returns for each pushed row whether it is still as pushed.
   */
  damage(
    store: S,
    damage: {
      taskIds: readonly string[]
      changes: readonly RowDamage<V, D>[]
      rows: readonly (readonly V[])[]
    },
  ): Promise<boolean[]>
  /** How many rows of `xcom_record` still have one of `dagIds` (as text, byte for byte). */
  remaining(store: S, dagIds: readonly string[]): Promise<number>
  /** @default 100 */
  runs?: number
  /** @default 120_000 */
  timeoutMs?: number
}

/** Fields of a reference (and a foreign one) that changes set or delete. */
const REF_FIELDS = ['uri', 'key', 'size', 'storedSize', 'codec', 'format', 'checksum', 'plainJson', 'extra']

/** Values pushed before the damage: inline ones and ones offloaded past the 16-byte threshold. */
const VALUES: unknown[] = [
  { n: 1 },
  'offloaded text, longer than sixteen bytes',
  new Uint8Array(40).fill(7),
  [1, 2, 3],
  { rows: Array.from({ length: 10 }, (_, i) => i) },
  null,
]

/**
 * A property test through the XCom facade: pushes inline and offloaded values, damages their rows at random and adds
 * random rows, then checks {@link expectDamagedRowsHandled} and that clearing left no row it could name.
 */
export function describeDamagedRowsFuzz<S extends MetadataStore, V, D>(
  name: string,
  harness: SqlStoreHarness<S>,
  fuzz: DamagedRowsFuzz<S, V, D>,
): void {
  const { fc } = fuzz
  const change: Arbitrary<ColumnChange<V, D>> = fc.oneof(
    fuzz.value.map((to) => ({ op: 'set' as const, to })),
    fc.nat(VALUES.length - 1).map((from) => ({ op: 'copy' as const, from })),
    fc.nat(80).map((at) => ({ op: 'truncate' as const, at })),
    fc
      .record({ field: fc.constantFrom(...REF_FIELDS), to: fc.oneof(fc.jsonValue(), fc.constant(undefined)) })
      .map(({ field, to }) => ({ op: 'field' as const, field, to })),
    fuzz.delta.map((delta) => ({ op: 'add' as const, delta })),
  )
  const changes = fc.array(
    fc.record({ row: fc.nat(VALUES.length - 1), column: fc.constantFrom(...fuzz.columns), change }),
    { minLength: 1, maxLength: 8 },
  )
  const width = fuzz.columns.length
  const rows = fc.array(fc.array(fuzz.value, { minLength: width, maxLength: width }), { maxLength: 2 })

  describe(`damaged rows through the XCom facade (fuzz): ${name}`, () => {
    const track = tracked(harness)
    it(
      'fails only with XComErrors, lists every row, pulls untouched ones exactly, clears and collects the rest',
      async () => {
        await fc.assert(
          fc.asyncProperty(changes, rows, async (changes, rows) => {
            const store = await track(harness.open())
            const xcom = new XCom({ metadata: store, backend: fuzz.backend() })
            try {
              const keys = VALUES.map((_, index) => ({ dagId: 'dag', runId: 'run', taskId: `t${index}` }))
              for (const [index, value] of VALUES.entries()) await xcom.push(keys[index] as XComKey, value)
              const taskIds = keys.map((key) => key.taskId)
              const intact = await fuzz.damage(store, { taskIds, changes, rows })
              const untouched = VALUES.flatMap((value, index) =>
                intact[index] ? [{ key: keys[index] as XComKey, value }] : [],
              )
              const count = await countRows(() => harness.sql(store, 'SELECT count(*) AS n FROM xcom_record'))
              const dagIds = await expectDamagedRowsHandled({ xcom, rows: count, keys, untouched })
              // What is left has a dagId no clear can name (not text, or not a valid identifier).
              expect(await fuzz.remaining(store, dagIds)).toBe(0)
            } finally {
              await xcom.close()
            }
          }),
          { numRuns: fuzz.runs ?? 100 },
        )
      },
      fuzz.timeoutMs ?? 120_000,
    )
  })
}

/** One side of {@link compareInlineRoundTrips} that is not XCom: the same work with the database's own driver. */
export interface RoundTripBaseline {
  /** Shown in the report, e.g. `node:sqlite directly (INSERT ... ON CONFLICT + SELECT)`. */
  label: string
  /** Upserts `data` (serialized JSON, a new record id each time) under `key`, then reads the row back: its `data`. */
  roundTrip(key: XComKey, data: string): Promise<string>
}

/** Options of {@link compareInlineRoundTrips}. */
export interface InlineRoundTripsOptions {
  /** First words of the report, e.g. `@xcom/sqlite`. */
  title: string
  /** The XCom under test (inline values in its metadata store), and how the report names it. */
  xcom: XCom
  label: string
  baseline: RoundTripBaseline
  /** @default 10_000 */
  roundTrips?: number
  /** @default 3 */
  rounds?: number
  /** The ratio `baseline time / xcom time` to reach. @default 0.8 */
  target?: number
}

/**
 * The benchmark of a metadata store: `roundTrips` inline push+pull round trips through XCom against the same upsert and
 * SELECT issued directly, in the same process. The sides alternate in chunks of 100 round trips, so load from other
 * processes and disk flushes hit both alike; each side's time is the sum of its chunks. Prints the mean time of a
 * round and `baseline / xcom`. Run under `node --expose-gc` so each round starts from a collected heap.
 * @returns the ratio.
 */
export async function compareInlineRoundTrips(options: InlineRoundTripsOptions): Promise<number> {
  const { xcom, baseline, roundTrips = 10_000, rounds = 3, target = 0.8 } = options
  const chunk = 100
  const keyOf = (i: number): XComKey => ({ ...identity, dagId: 'bench', mapIndex: i % 1000 })
  const payloadOf = (i: number) => ({ i, name: `row-${i}`, tags: ['a', 'b'], ok: true })
  const sides = {
    baseline: async (i: number) => {
      const back = await baseline.roundTrip(keyOf(i), JSON.stringify(payloadOf(i)))
      if (JSON.parse(back).i !== i) throw new Error('the baseline returned the wrong value')
    },
    xcom: async (i: number) => {
      await xcom.push(keyOf(i), payloadOf(i))
      if (((await xcom.pull(keyOf(i))) as { i: number }).i !== i)
        throw new Error('xcom returned the wrong value')
    },
  }
  const totals = { baseline: 0, xcom: 0 }
  const run = async (side: keyof typeof sides, from: number, count: number) => {
    const start = performance.now()
    for (let i = from; i < from + count; i++) await sides[side](i)
    totals[side] += performance.now() - start
  }
  await run('baseline', 0, 1000)
  await run('xcom', 0, 1000)
  totals.baseline = totals.xcom = 0
  for (let round = 0; round < rounds; round++) {
    ;(globalThis as { gc?: () => void }).gc?.()
    for (let from = 0; from < roundTrips; from += chunk) {
      await run('baseline', from, chunk)
      await run('xcom', from, chunk)
    }
  }
  const width = Math.max(baseline.label.length, options.label.length) + 1
  const perRound = (ms: number) => `${(ms / rounds).toFixed(0)} ms`
  const ratio = totals.baseline / totals.xcom
  console.log(
    `${options.title}: ${roundTrips} inline push+pull round trips, mean of ${rounds} interleaved rounds`,
  )
  console.log(`  ${`${baseline.label}:`.padEnd(width)} ${perRound(totals.baseline)}`)
  console.log(`  ${`${options.label}:`.padEnd(width)} ${perRound(totals.xcom)}`)
  console.log(`  ratio baseline/xcom: ${ratio.toFixed(2)} (target >= ${target})`)
  return ratio
}
