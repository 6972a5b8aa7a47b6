/*
 * The fuzz test every SQL metadata store of this project runs: rows pushed through XCom, then damaged column by column
 * with raw SQL in every way the database allows, must be handled as malformed rows, never crash a read.
 */
import { type MetadataStore, XCom, type XComBackend, type XComKey } from '@xcom/core'
import type fc from 'fast-check'
import type { Arbitrary } from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expectDamagedRowsHandled } from './damaged-rows.ts'
import { countRows, type SqlStoreHarness, tracked } from './sql-harness.ts'

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
const REF_FIELDS = [
  'uri',
  'objectKey',
  'size',
  'storedSize',
  'codec',
  'format',
  'checksum',
  'plainJson',
  'extra',
]

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
