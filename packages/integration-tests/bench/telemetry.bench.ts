// Telemetry overhead: 10,000 inline push+pull through the XCom facade, three ways in one process, interleaved:
// no instrumentation (`telemetry: false`), @opentelemetry/api present with no SDK registered (the default), and the
// SDK (batching span processor, as the Node SDK sets up) with in-memory exporters. Reports each as a ratio of the first (medians of interleaved rounds).
// Two metadata stores: SQLite in a file (the embedded default, what a deployment runs) and the in-memory store (no I/O
// at all: the worst case for any per-call overhead). XCOM_BENCH_SQLITE_MEMORY=1 runs SQLite in memory instead: the same
// engine without the disk's fsync latency, whose variance swamps small differences.
// Run: `pnpm --filter @xcom/integration-tests bench` (part of `pnpm bench`).

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { context, metrics, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { BatchSpanProcessor, InMemorySpanExporter, TracerProvider } from '@opentelemetry/sdk-trace'
import { MemoryMetadataStore, type MetadataStore, XCom } from '@xcom/core'
import { SqliteMetadataStore } from '@xcom/sqlite'

const OPS = 10_000
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 15)

class CollectOnDemand extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const value = { rows: [1, 2, 3], label: 'a small inline value', ok: true }

/** Wall time and CPU time (user + system, in ms) of one pass: a disk's fsync latency varies more than the CPU spent. */
interface Timing {
  wall: number
  cpu: number
}

const spans = new InMemorySpanExporter()

async function pushPull(xcom: XCom): Promise<Timing> {
  const started = performance.now()
  const cpu = process.cpuUsage()
  for (let index = 0; index < OPS; index++) {
    const id = { dagId: 'bench', runId: 'r1', taskId: 't', mapIndex: index % 100 }
    await xcom.push(id, value)
    await xcom.pull(id)
    // An exporter ships what it is given and forgets it: keeping 40,000 spans would time the garbage collector.
    if (index % 1000 === 999) spans.reset()
  }
  const used = process.cpuUsage(cpu)
  return { wall: performance.now() - started, cpu: (used.user + used.system) / 1000 }
}

// A batching processor, as OpenTelemetry's Node SDK sets up by default: spans are exported off the hot path.
const tracerProvider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: spans })] })
const reader = new CollectOnDemand()
const meterProvider = new MeterProvider({ readers: [reader] })
const contextManager = new AsyncLocalStorageContextManager().enable()

let metadata: MetadataStore = new MemoryMetadataStore()
const sides = {
  'no instrumentation': () => new XCom({ metadata, telemetry: false, logLevel: 'silent' }),
  'API, no SDK': () => new XCom({ metadata, logLevel: 'silent' }),
  'SDK, in-memory exporters': () =>
    new XCom({
      metadata,
      logLevel: 'silent',
      telemetry: { tracer: tracerProvider.getTracer('bench'), meter: meterProvider.getMeter('bench') },
    }),
}

async function timed(name: keyof typeof sides): Promise<Timing> {
  const withSdk = name === 'SDK, in-memory exporters'
  if (withSdk) context.setGlobalContextManager(contextManager)
  try {
    const timing = await pushPull(sides[name]())
    await tracerProvider.forceFlush()
    spans.reset()
    await reader.collect()
    return timing
  } finally {
    if (withSdk) context.disable()
  }
}

/** Times each side over interleaved rounds on `store` and prints the medians as ratios of no instrumentation. */
async function compare(label: string, store: MetadataStore, rounds: number): Promise<void> {
  metadata = store
  const times: Record<string, Timing[]> = {}
  for (const name of Object.keys(sides) as (keyof typeof sides)[]) {
    await timed(name) // warm-up
    times[name] = []
  }
  const names = Object.keys(sides) as (keyof typeof sides)[]
  for (let round = 0; round < rounds; round++) {
    // Each round starts with another side: the database file's state (WAL growth, checkpoints) favours no position.
    for (let turn = 0; turn < names.length; turn++) {
      const name = names[(round + turn) % names.length] as keyof typeof sides
      globalThis.gc?.()
      times[name]?.push(await timed(name))
    }
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const base = times['no instrumentation'] as Timing[]
  const [baseWall, baseCpu] = [median(base.map((t) => t.wall)), median(base.map((t) => t.cpu))]
  console.log(`${OPS} inline push+pull on ${label}, medians of ${rounds} interleaved rounds`)
  for (const [name, values] of Object.entries(times)) {
    const wall = median(values.map((t) => t.wall))
    const cpu = median(values.map((t) => t.cpu))
    console.log(
      `  ${name.padEnd(26)} wall ${((wall / OPS) * 1000).toFixed(1).padStart(6)} µs ratio ${(wall / baseWall).toFixed(3)}   cpu ${((cpu / OPS) * 1000).toFixed(1).padStart(6)} µs ratio ${(cpu / baseCpu).toFixed(3)}`,
    )
  }
}

const dir = await mkdtemp(join(tmpdir(), 'xcom-telemetry-bench-'))
try {
  const sqlite = new SqliteMetadataStore({
    path: process.env.XCOM_BENCH_SQLITE_MEMORY ? ':memory:' : join(dir, 'xcom.db'),
  })
  await compare(
    process.env.XCOM_BENCH_SQLITE_MEMORY ? 'SQLite (in memory)' : 'SQLite (a file, the embedded default)',
    sqlite,
    ROUNDS,
  )
  await sqlite.close()
  await compare('MemoryMetadataStore (no I/O)', new MemoryMetadataStore(), ROUNDS)
} finally {
  await rm(dir, { recursive: true, force: true })
}
trace.disable()
metrics.disable()
