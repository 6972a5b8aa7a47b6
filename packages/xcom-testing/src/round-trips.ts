/* The benchmark loop both SQL metadata stores share: inline round trips through XCom against the driver alone. */
import type { XCom, XComKey } from '@xcom/core'
import { identity } from './sql-harness.ts'

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
