// Serializer benchmark: serialize + deserialize against JSON.stringify + JSON.parse, in the same process.
// Run: `node --conditions=@xcom/source --expose-gc bench/serializer.bench.ts` (the package's `bench` script).
import { Buffer } from 'node:buffer'
import { SerializerRegistry } from '../src/index.ts'
import { mulberry32 } from '../test/random.ts'

const RUNS = 9
const WARMUP = 2
const TARGET_BYTES = 30 * 1024 * 1024

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet']

function plainRecord(next: () => number, id: number) {
  const word = () => WORDS[Math.floor(next() * WORDS.length)]!
  return {
    id,
    uuid: Math.floor(next() * 2 ** 52)
      .toString(16)
      .padStart(13, '0'),
    name: `${word()} ${word()}`,
    email: `${word()}.${id}@example.com`,
    active: next() < 0.5,
    score: Math.round(next() * 1e6) / 100,
    count: Math.floor(next() * 1e6),
    ratio: next() < 0.2 ? null : next(),
    tags: [word(), word(), word()],
    address: {
      street: `${id} ${word()} street`,
      city: word(),
      zip: String(10000 + id),
      geo: { lat: next(), lon: next() },
    },
    history: [
      { at: new Date(1.7e12 + id * 1000).toISOString(), status: 'created', amount: id / 4 },
      { at: new Date(1.7e12 + id * 2000).toISOString(), status: 'paid', amount: id / 8 },
    ],
    notes: null,
    meta: { source: word(), version: 3, flags: [true, false, next() < 0.5] },
  }
}

type Plain = ReturnType<typeof plainRecord>

/** The same record with Dates, a Map and a BigInt in place of strings, an object and a number. */
function richRecord(record: Plain) {
  return {
    ...record,
    count: BigInt(record.count) * 1_000_000_000_000n,
    history: record.history.map((entry) => ({ ...entry, at: new Date(entry.at) })),
    meta: new Map<string, unknown>(Object.entries(record.meta)),
  }
}

function makeRecords(): Plain[] {
  const next = mulberry32(42)
  const records: Plain[] = []
  let bytes = 0
  while (bytes < TARGET_BYTES) {
    const record = plainRecord(next, records.length)
    bytes += JSON.stringify(record).length + 1
    records.push(record)
  }
  return records
}

function gc(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

/** This thread's CPU time in ms: unlike wall time, it barely moves when other processes share the cores. */
const threadCpu = (process as { threadCpuUsage?: () => { user: number; system: number } }).threadCpuUsage
function cpuNow(): number {
  if (threadCpu === undefined) return performance.now()
  const usage = threadCpu.call(process)
  return (usage.user + usage.system) / 1000
}

interface Timing {
  cpu: number
  wall: number
}

function time(fn: () => void): Timing {
  gc()
  const cpu = cpuNow()
  const wall = performance.now()
  fn()
  return { cpu: cpuNow() - cpu, wall: performance.now() - wall }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

interface Row {
  name: string
  mb: number
  json: number
  xcom: number
  wallRatio: number
  parts: string
}

function measure(name: string, value: unknown, baseline: unknown): Row {
  const serializer = new SerializerRegistry()
  const text = serializer.serialize(value)
  const baselineText = JSON.stringify(baseline)
  const runs: { stringify: Timing; parse: Timing; serialize: Timing; deserialize: Timing }[] = []
  let sink = 0
  for (let run = 0; run < WARMUP + RUNS; run++) {
    const timings = {
      stringify: time(() => {
        sink += JSON.stringify(baseline).length
      }),
      parse: time(() => {
        sink += JSON.parse(baselineText) ? 1 : 0
      }),
      serialize: time(() => {
        sink += serializer.serialize(value).length
      }),
      deserialize: time(() => {
        sink += serializer.deserialize(text) ? 1 : 0
      }),
    }
    if (run >= WARMUP) runs.push(timings)
  }
  if (sink === 0) console.log('unreachable')
  const cpu = (part: keyof (typeof runs)[number]) => median(runs.map((timings) => timings[part].cpu))
  const wall = (part: keyof (typeof runs)[number]) => median(runs.map((timings) => timings[part].wall))
  return {
    name,
    mb: Buffer.byteLength(text) / 2 ** 20,
    json: cpu('stringify') + cpu('parse'),
    xcom: cpu('serialize') + cpu('deserialize'),
    wallRatio: (wall('serialize') + wall('deserialize')) / (wall('stringify') + wall('parse')),
    parts: `${cpu('stringify').toFixed(0)}+${cpu('parse').toFixed(0)} / ${cpu('serialize').toFixed(0)}+${cpu('deserialize').toFixed(0)}`,
  }
}

const plain = makeRecords()
const rich = plain.map(richRecord)
const richTree = new SerializerRegistry().encode(rich)

const rows = [
  measure('(a) plain JSON records', plain, plain),
  measure('(b) with Dates, Maps, BigInts', rich, richTree),
]

console.log(
  `serializer: ${plain.length} records, Node ${process.version}, median of ${RUNS} runs after ${WARMUP} warm-up runs`,
)
console.log(
  'ms: CPU time of this thread (wall-clock ratio beside it); JSON: JSON.stringify + JSON.parse of the same text',
)
console.log(
  '((b): of the encoded envelope tree, since JSON.stringify cannot write BigInts); xcom: serialize + deserialize',
)
console.log('')
console.log(
  '| case                          |    MB | JSON ms | xcom ms | ratio | wall ratio | stringify+parse / xcom ms |',
)
console.log(
  '|-------------------------------|-------|---------|---------|-------|------------|---------------------------|',
)
for (const row of rows) {
  const cells = [
    row.name.padEnd(29),
    row.mb.toFixed(1).padStart(5),
    row.json.toFixed(0).padStart(7),
    row.xcom.toFixed(0).padStart(7),
    (row.xcom / row.json).toFixed(2).padStart(5),
    row.wallRatio.toFixed(2).padStart(10),
    row.parts.padEnd(25),
  ]
  console.log(`| ${cells.join(' | ')} |`)
}
