/**
 * Scenario 3: N worker processes sharing PostgreSQL and s3rver for a fixed time, through XCom or the raw baseline.
 * The parent samples pg_stat_activity for the run's connections and aggregates the workers' latencies.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { PostgresMetadataStore } from '@xcom/postgres'
import { S3ObjectStore } from '@xcom/s3'
import type { LoadMode, WorkerConfig, WorkerResult } from './load-config.ts'
import { createRawTable } from './raw-baseline.ts'
import { connectPostgres, dropSchema, freshSchema, postgresUrlFor, s3Options } from './services.ts'

/** Options of {@link runLoad}. */
export interface LoadOptions {
  mode: LoadMode
  workers: number
  seconds: number
  seed: number
  s3Endpoint: string
  /** @default 0.1 */
  offloadedShare?: number
  /** @default 1 to 20 MiB */
  offloadedBytes?: { min: number; max: number }
}

/** Percentiles of one shape's latencies, in milliseconds. */
export interface LatencySummary {
  count: number
  p50: number
  p99: number
}

/** One load run's figures. */
export interface LoadResult {
  mode: LoadMode
  workers: number
  seconds: number
  ops: number
  opsPerSecond: number
  /** Megabytes (MiB) moved per second by offloaded pushes and pulls. */
  mibPerSecond: number
  inline: LatencySummary
  offloaded: LatencySummary
  errors: number
  errorSamples: string[]
  mismatches: number
  /** The most connections of this run pg_stat_activity showed at once. */
  maxConnections: number
}

/** The `q` quantile of sorted values (nearest rank). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0
}

function summary(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b)
  return { count: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) }
}

/**
 * One offloaded push before the workers start, so that the prefix's claim exists: workers racing to write it on
 * s3rver (no conditional create, non-atomic writes) read it torn (E_CORRUPT, ECONNRESET). A finding of its own, see
 * the README; the load run measures the steady state.
 */
async function claimPrefix(s3Endpoint: string, postgresUrl: string, schema: string): Promise<void> {
  const xcom = new XCom({
    metadata: new PostgresMetadataStore({ connectionString: postgresUrl, schema }),
    backend: new ObjectStoreXComBackend({
      store: new S3ObjectStore(s3Options(s3Endpoint, schema)),
      threshold: 0,
    }),
  })
  try {
    await xcom.push({ dagId: 'warm-up', runId: 'r', taskId: 'claim' }, 'claims the prefix')
  } finally {
    await xcom.close()
  }
}

/** Forks one worker and resolves to its report. */
function forkWorker(config: WorkerConfig): Promise<WorkerResult> {
  const child = fork(fileURLToPath(new URL('./load-worker.ts', import.meta.url)), [], {
    execArgv: ['--conditions=@xcom/source', '--no-warnings'],
    env: { ...process.env, XCOM_RELIABILITY_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    let result: WorkerResult | undefined
    child.once('message', (message) => {
      result = message as WorkerResult
    })
    child.once('error', reject)
    child.once('exit', (code) =>
      result
        ? resolve(result)
        : reject(new Error(`load worker ${config.index} exited with code ${code} without a report`)),
    )
  })
}

/** Runs `workers` processes for `seconds` and aggregates their reports. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const schema = freshSchema(`load_${options.mode}_${options.workers}`)
  const application = `xcom-reliability-${schema}`
  const admin = await connectPostgres()
  let maxConnections = 0
  let sampling = true
  try {
    if (options.mode === 'raw') await createRawTable(admin, schema)
    else await claimPrefix(options.s3Endpoint, postgresUrlFor(application), schema)
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await admin.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
          [application],
        )
        maxConnections = Math.max(maxConnections, Number(rows[0]?.n ?? 0))
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    })()
    const reports = await Promise.all(
      Array.from({ length: options.workers }, (_, index) =>
        forkWorker({
          mode: options.mode,
          index,
          seed: options.seed,
          seconds: options.seconds,
          s3Endpoint: options.s3Endpoint,
          postgresUrl: postgresUrlFor(application),
          schema,
          offloadedShare: options.offloadedShare ?? 0.1,
          offloadedBytes: options.offloadedBytes ?? { min: 1 << 20, max: 20 << 20 },
        }),
      ),
    ).finally(() => {
      sampling = false
    })
    await sampler
    // Workers time themselves: process start-up (loading TypeScript sources) is not load.
    const elapsed = Math.max(...reports.map((report) => report.elapsedMs)) / 1000
    const ops = reports.reduce((sum, report) => sum + report.pushes + report.pulls, 0)
    const bytes = reports.reduce((sum, report) => sum + report.bytes, 0)
    return {
      mode: options.mode,
      workers: options.workers,
      seconds: options.seconds,
      ops,
      opsPerSecond: ops / elapsed,
      mibPerSecond: bytes / 2 ** 20 / elapsed,
      inline: summary(reports.flatMap((report) => report.latencies.inline)),
      offloaded: summary(reports.flatMap((report) => report.latencies.offloaded)),
      errors: reports.reduce((sum, report) => sum + report.errors, 0),
      errorSamples: reports.flatMap((report) => report.errorSamples).slice(0, 5),
      mismatches: reports.reduce((sum, report) => sum + report.mismatches, 0),
      maxConnections,
    }
  } finally {
    sampling = false
    await admin.end()
    await dropSchema(schema)
  }
}
