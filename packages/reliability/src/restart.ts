/**
 * Scenario 2: real services failing in the middle of a workload. PostgreSQL: every backend of the run is killed
 * with pg_terminate_backend from a separate session, again and again. s3rver and azurite: really stopped and started
 * again on the same port with the same data directory, three times. The GCS test server: taken down three times
 * (every connection reset, port closed) and brought back on the same port; it keeps its data in memory through
 * that, as a real GCS loses nothing in an outage.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AzureBlobObjectStore } from '@xcom/azure'
import { GcsObjectStore } from '@xcom/gcs'
import { PostgresMetadataStore } from '@xcom/postgres'
import { S3ObjectStore } from '@xcom/s3'
import { SqliteMetadataStore } from '@xcom/sqlite'
import { startAzurite, startS3rver } from '@xcom/test-services'
import { checkInvariants, type InvariantReport, invariantsHold } from './invariants.ts'
import {
  BUCKET,
  connectPostgres,
  dropSchema,
  freshSchema,
  postgresUrlFor,
  s3Options,
  startGcs,
} from './services.ts'
import { type Stack, stackOf } from './stacks.ts'
import { runWorkload, type WorkloadResult } from './workload.ts'

/** One restart scenario's outcome. */
export interface RestartResult {
  scenario: string
  /** What was done to the service: backends terminated, or restarts. */
  disruptions: string
  workload: Omit<WorkloadResult, 'model'>
  invariants: InvariantReport
  ok: boolean
}

/** Options shared by the restart scenarios. */
export interface RestartOptions {
  seed: number
  ops: number
}

async function finish(
  scenario: string,
  stack: Stack,
  options: RestartOptions,
  disrupt: { beforeOp?: (index: number) => Promise<void> | void; end: () => Promise<string> },
): Promise<RestartResult> {
  try {
    const { model, ...workload } = await runWorkload(stack, {
      seed: options.seed,
      ops: options.ops,
      ...disrupt,
    })
    const disruptions = await disrupt.end() // services are back from here on
    const invariants = await checkInvariants(stack, model)
    workload.seenCommitted = model.committedDespiteFailure
    const ok = invariantsHold(invariants) && workload.lost.length === 0 && workload.unexplained.length === 0
    return { scenario, disruptions, workload, invariants, ok }
  } finally {
    await stack.close()
  }
}

/** A service that can be stopped and started again (same port, same data). */
interface Restartable {
  stop(): Promise<void>
  start(): Promise<unknown>
}

/** A launcher's service as a {@link Restartable}: `start` launches a new one, `stop` stops the running one. */
function relaunchable<Handle extends { stop(): Promise<void> }>(launch: () => Promise<Handle>) {
  let running: Handle | undefined
  return {
    async start(): Promise<Handle> {
      running = await launch()
      return running
    },
    async stop(): Promise<void> {
      await running?.stop()
      running = undefined
    },
  }
}

/**
 * Restarts of `service`: stopped at 20%, 50% and 80% of the operations (requests in flight fail, the port is
 * closed, so operations fail fast), started again 5% of the operations (at most 10) later but never before
 * `outageMs` have passed. `told` words the summary: what was done, and what stayed.
 */
function restarts(
  service: Restartable,
  ops: number,
  outageMs: number,
  told: { done: string; kept: string } = {
    done: 'stopped and restarted',
    kept: 'same port, same data directory',
  },
) {
  const downs = [0.2, 0.5, 0.8].map((at) => Math.floor(ops * at))
  const ups = new Set(downs.map((at) => at + Math.min(10, Math.max(1, Math.floor(ops * 0.05)))))
  let downSince = 0
  let down = false
  let restarted = 0
  const up = async (): Promise<void> => {
    if (!down) return
    const left = downSince + outageMs - performance.now()
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left))
    await service.start()
    down = false
    restarted++
  }
  return {
    async beforeOp(index: number) {
      if (downs.includes(index) && !down) {
        await service.stop()
        down = true
        downSince = performance.now()
      } else if (ups.has(index)) {
        await up()
      }
    },
    async end() {
      await up()
      return `${told.done} ${restarted} times (down ${outageMs}+ ms each; ${told.kept})`
    },
  }
}

/** s3rver objects and PostgreSQL rows while every backend of the run is terminated every `everyMs`. */
export async function postgresTerminations(
  s3Endpoint: string,
  options: RestartOptions & { everyMs?: number },
): Promise<RestartResult> {
  const schema = freshSchema('restart')
  const application = `xcom-reliability-${schema}`
  const stack = stackOf(
    'PostgreSQL backends terminated',
    new PostgresMetadataStore({ connectionString: postgresUrlFor(application), schema }),
    new S3ObjectStore(s3Options(s3Endpoint, schema)),
    undefined,
    () => dropSchema(schema),
  )
  const admin = await connectPostgres()
  let terminated = 0
  let rounds = 0
  let running = true
  const killer = (async () => {
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 100))
      const { rows } = await admin.query(
        'SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [application],
      )
      rounds++
      terminated += rows.filter((row: { done: boolean }) => row.done).length
    }
  })()
  return finish('PostgreSQL: pg_terminate_backend', stack, options, {
    async end() {
      running = false
      await killer
      await admin.end()
      return `${terminated} backends terminated in ${rounds} rounds`
    },
  })
}

/**
 * s3rver stopped and restarted, and PostgreSQL. The s3rver runs in this process but is one of this scenario's own
 * (stopping the suite's shared one would break the others), on a fixed port and data directory: its stop closes the
 * listener and resets every open connection, its start is a new s3rver instance on the same port and directory.
 */
export async function s3rverRestarts(
  options: RestartOptions & { outageMs?: number },
): Promise<RestartResult> {
  const directory = await mkdtemp(join(tmpdir(), 'xcom-reliability-s3rver-'))
  let port = 0 // the first start picks one, the restarts reuse it (the bucket is in the directory by then)
  const s3rver = relaunchable(() => startS3rver(port ? { port, directory } : { bucket: BUCKET, directory }))
  try {
    const server = await s3rver.start()
    port = Number(new URL(server.endpoint).port)
    const schema = freshSchema('s3out')
    const stack = stackOf(
      's3rver restarts',
      new PostgresMetadataStore({ connectionString: postgresUrlFor(`xcom-reliability-${schema}`), schema }),
      new S3ObjectStore({ ...s3Options(server.endpoint, schema), retryOptions: { maxAttempts: 3 } }),
      undefined,
      () => dropSchema(schema),
    )
    const disrupt = restarts(s3rver, options.ops, options.outageMs ?? 1500)
    return await finish('s3rver: stopped and restarted (same port, same data)', stack, options, disrupt)
  } finally {
    await s3rver.stop()
    await rm(directory, { recursive: true, force: true })
  }
}

/**
 * Azurite stopped and restarted, and SQLite. Azurite runs in a child process; its stop is SIGTERM, which azurite
 * answers by refusing new connections, closing idle ones, finishing the requests in flight and saving its LokiJS
 * metadata before it exits (a SIGKILL could lose up to 5 s of acknowledged writes: azurite autosaves its metadata
 * every 5 s, and a real Azure loses nothing it acknowledged). The next start is a new child on the same port with
 * the same `--location`.
 */
export async function azuriteRestarts(
  options: RestartOptions & { outageMs?: number },
): Promise<RestartResult> {
  const location = await mkdtemp(join(tmpdir(), 'xcom-reliability-azurite-'))
  const dir = await mkdtemp(join(tmpdir(), 'xcom-reliability-az-'))
  let port = 0 // the first start picks one, the restarts reuse it
  const azurite = relaunchable(() => startAzurite({ port, location, containers: [BUCKET] }))
  try {
    const { connectionString, blobEndpoint } = await azurite.start()
    port = Number(new URL(blobEndpoint).port)
    const stack = stackOf(
      'azurite restarts',
      new SqliteMetadataStore({ path: join(dir, 'xcom.db') }),
      new AzureBlobObjectStore({
        connectionString,
        container: BUCKET,
        prefix: 'outages',
        retryOptions: { maxTries: 3, retryDelayInMs: 100, maxRetryDelayInMs: 400 },
      }),
      undefined,
      () => rm(dir, { recursive: true, force: true }),
    )
    const disrupt = restarts(azurite, options.ops, options.outageMs ?? 1500)
    return await finish('azurite: stopped and restarted (same port, same data)', stack, options, disrupt)
  } finally {
    await azurite.stop()
    await rm(location, { recursive: true, force: true })
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The GCS test server taken down and brought back, and SQLite. Its `down()` resets every open connection and
 * closes the port; its `up()` listens again on the same port, with the data it held.
 */
export async function gcsRestarts(options: RestartOptions & { outageMs?: number }): Promise<RestartResult> {
  const gcs = await startGcs()
  const dir = await mkdtemp(join(tmpdir(), 'xcom-reliability-gcs-'))
  const stack = stackOf(
    'GCS test server restarts',
    new SqliteMetadataStore({ path: join(dir, 'xcom.db') }),
    new GcsObjectStore({
      bucket: BUCKET,
      prefix: 'outages',
      apiEndpoint: gcs.apiEndpoint,
      projectId: gcs.projectId,
      retryOptions: { maxRetryDelay: 1, retryDelayMultiplier: 1.1, maxRetries: 1, totalTimeout: 5 },
    }),
    undefined,
    () => rm(dir, { recursive: true, force: true }),
  )
  const disrupt = restarts(
    { stop: () => gcs.down(), start: () => gcs.up() },
    options.ops,
    options.outageMs ?? 1500,
    { done: 'taken down and brought back', kept: 'same port, data kept in memory' },
  )
  try {
    return await finish('GCS test server: down and up again (same port, same data)', stack, options, disrupt)
  } finally {
    await gcs.stop()
  }
}
