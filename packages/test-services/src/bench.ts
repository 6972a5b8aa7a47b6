/** One way of moving a value to a service and back, timed step by step. */
export interface TransferSide {
  /** Shown in the table. */
  label: string
  /** Writes the value. */
  push(): Promise<void>
  /** Reads it back: whatever holds the bytes read (their `byteLength` must be the size written). */
  pull(): Promise<{ byteLength: number }>
}

/** Options of {@link compareTransfers}. */
export interface CompareTransfersOptions<Name extends string> {
  /** First line of the report, e.g. `@xcom/s3: push+pull of 256 MiB to s3rver`. */
  title: string
  /** Bytes moved each way: every pull must return this many; also for the MiB/s column. */
  size: number
  /** Timed rounds; every side runs once per round, in turn, after one untimed warm-up each. */
  rounds: number
  /** The sides, by name; the first is the baseline the others are compared with. */
  sides: Record<Name, TransferSide>
  /** The side held to `target`. */
  subject: NoInfer<Name>
  /** The ratio `baseline time / subject time` the subject must reach. */
  target: number
}

/** Median push, pull and push + pull milliseconds of each side, and `baseline / side` of the totals. */
export type TransferReport<Name extends string> = Record<
  Name,
  { push: number; pull: number; total: number; ratio: number }
>

const MiB = 1024 * 1024

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/**
 * Times the sides against each other in the same process and prints a table of medians: sides alternate round by
 * round so load from elsewhere hits them alike, and one disturbed round does not move a median. Run under
 * `node --expose-gc` so each step starts from a collected heap.
 */
export async function compareTransfers<Name extends string>(
  options: CompareTransfersOptions<Name>,
): Promise<TransferReport<Name>> {
  const names = Object.keys(options.sides) as Name[]
  const samples = {} as Record<Name, { push: number[]; pull: number[]; total: number[] }>
  for (const name of names) samples[name] = { push: [], pull: [], total: [] }
  const gc = (globalThis as { gc?: () => void }).gc
  const sides = {} as Record<Name, { push(): Promise<void>; pull(): Promise<void> }>
  for (const name of names) {
    const side = options.sides[name]
    sides[name] = {
      push: () => side.push(),
      pull: async () => {
        const { byteLength } = await side.pull()
        if (byteLength !== options.size)
          throw new Error(`${side.label} read back ${byteLength} bytes where ${options.size} were written`)
      },
    }
    await sides[name].push()
    await sides[name].pull()
  }
  for (let round = 0; round < options.rounds; round++) {
    for (const name of names) {
      const took = { push: 0, pull: 0 }
      for (const step of ['push', 'pull'] as const) {
        gc?.()
        const start = performance.now()
        await sides[name][step]()
        took[step] = performance.now() - start
      }
      samples[name].push.push(took.push)
      samples[name].pull.push(took.pull)
      samples[name].total.push(took.push + took.pull)
    }
  }
  const baseline = median(samples[names[0] as Name].total)
  const report = {} as TransferReport<Name>
  for (const name of names) {
    const total = median(samples[name].total)
    report[name] = {
      push: median(samples[name].push),
      pull: median(samples[name].pull),
      total,
      ratio: baseline / total,
    }
  }
  const width = Math.max(...names.map((name) => options.sides[name].label.length))
  const ms = (value: number) => `${value.toFixed(0)} ms`.padStart(8)
  console.log(`${options.title}, median of ${options.rounds} interleaved rounds`)
  for (const name of names) {
    const { push, pull, total, ratio } = report[name]
    const rate = ((2 * options.size) / MiB / (total / 1000)).toFixed(0).padStart(4)
    console.log(
      `  ${options.sides[name].label.padEnd(width)}  ${ms(total)} ${rate} MiB/s  (push ${ms(push)}, pull ${ms(pull)})  ${ratio.toFixed(2)}x`,
    )
  }
  const ratio = report[options.subject].ratio
  console.log(
    `  ratio ${options.sides[names[0] as Name].label} / ${options.sides[options.subject].label}: ${ratio.toFixed(2)} (target >= ${options.target}) ${ratio >= options.target ? 'met' : 'NOT met'}`,
  )
  return report
}

/**
 * The side every adapter benchmark measures: `data` pushed to and pulled from XCom (through the object storage
 * backend and the adapter's store, named in the label). Typed by shape, so this package needs no xcom package.
 */
export function xcomSide<Id>(
  storeName: string,
  xcom: { push(id: Id, value: Uint8Array): Promise<unknown>; pull(id: Id): Promise<unknown> },
  id: Id,
  data: Uint8Array,
): TransferSide {
  return {
    label: `XCom + ObjectStoreXComBackend + ${storeName}`,
    push: async () => {
      await xcom.push(id, data)
    },
    pull: async () => (await xcom.pull(id)) as Uint8Array,
  }
}

/** The adapter's store alone, without the backend's checksums: what the adapter itself adds or saves. */
export function storeSide(
  storeName: string,
  store: {
    put(objectKey: string, body: Uint8Array): Promise<unknown>
    get(objectKey: string): Promise<{ bytes(): Promise<Uint8Array> }>
  },
  data: Uint8Array,
): TransferSide {
  return {
    label: `${storeName} alone (put bytes + get bytes)`,
    push: async () => {
      await store.put('store-only/value.bin', data)
    },
    pull: async () => (await store.get('store-only/value.bin')).bytes(),
  }
}
