/**
 * A load worker (child process): pushes and pulls for a fixed time, 1 push for 3 pulls, 90% of pushes inline and 10%
 * offloaded binary values, through XCom or the raw baseline; reports its latencies to the parent over IPC.
 */
import { XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { PostgresMetadataStore } from '@xcom/postgres'
import { S3ObjectStore } from '@xcom/s3'
import type { WorkerConfig, WorkerResult } from './load-config.ts'
import { RawBaseline } from './raw-baseline.ts'
import { s3Options } from './services.ts'
import { THRESHOLD } from './stacks.ts'
import { between, prng, randomishBytes } from './values.ts'

/** How many identities each worker cycles through (so pushes overwrite and purge). */
const TASKS = 20

/** Push and pull, whichever the mode: the same calls for XCom and for the baseline. */
interface Client {
  push(taskId: string, value: unknown): Promise<void>
  pull(taskId: string): Promise<unknown>
  close(): Promise<void>
}

function clientOf(config: WorkerConfig): Client {
  const dagId = `load-${config.index}`
  const runId = 'r'
  if (config.mode === 'raw') {
    const raw = new RawBaseline(config.postgresUrl, config.schema, config.s3Endpoint)
    return {
      push: (taskId, value) => raw.push({ dagId, runId, taskId }, value),
      pull: (taskId) => raw.pull({ dagId, runId, taskId }),
      close: () => raw.close(),
    }
  }
  const xcom = new XCom({
    metadata: new PostgresMetadataStore({ connectionString: config.postgresUrl, schema: config.schema }),
    backend: new ObjectStoreXComBackend({
      store: new S3ObjectStore(s3Options(config.s3Endpoint, config.schema)),
      threshold: THRESHOLD,
    }),
  })
  return {
    push: async (taskId, value) => {
      await xcom.push({ dagId, runId, taskId }, value)
    },
    pull: (taskId) => xcom.pull({ dagId, runId, taskId }),
    close: () => xcom.close(),
  }
}

/** Runs one worker's share of the load. */
export async function runWorker(config: WorkerConfig): Promise<WorkerResult> {
  const random = prng(config.seed * 1000 + config.index)
  const client = clientOf(config)
  const result: WorkerResult = {
    index: config.index,
    pushes: 0,
    pulls: 0,
    bytes: 0,
    latencies: { inline: [], offloaded: [] },
    errors: 0,
    errorSamples: [],
    mismatches: 0,
    elapsedMs: 0,
  }
  // What each task holds now: its tag and size (a pull must return exactly that).
  const held = new Map<string, { tag: string; size: number; offloaded: boolean }>()
  const started = performance.now()
  const deadline = started + config.seconds * 1000
  for (let op = 0; performance.now() < deadline; op++) {
    const taskId = `t${between(random, 0, TASKS - 1)}`
    const current = held.get(taskId)
    const pushing = current === undefined || random() < 0.25
    const tag = `${config.index}:${op}`
    const offloaded = pushing ? random() < config.offloadedShare : (current?.offloaded ?? false)
    const size = !offloaded
      ? 0
      : pushing
        ? between(random, config.offloadedBytes.min, config.offloadedBytes.max)
        : (current?.size ?? 0)
    const value = pushing
      ? offloaded
        ? randomishBytes(tag, size, op * 7919)
        : { tag, n: op, note: 'x'.repeat(200) }
      : undefined
    const begin = performance.now()
    try {
      if (pushing) {
        await client.push(taskId, value)
        held.set(taskId, { tag, size, offloaded })
        result.pushes++
        result.bytes += size
      } else {
        const pulled = await client.pull(taskId)
        result.pulls++
        if (!matches(pulled, current)) result.mismatches++
        result.bytes += current?.size ?? 0
      }
      result.latencies[offloaded ? 'offloaded' : 'inline'].push(performance.now() - begin)
    } catch (error) {
      result.errors++
      if (result.errorSamples.length < 5)
        result.errorSamples.push(
          describe(
            error,
            `${pushing ? 'push' : 'pull'} of ${offloaded ? `${size} offloaded bytes` : 'an inline value'}`,
          ),
        )
    }
  }
  result.elapsedMs = performance.now() - started
  await client.close()
  return result
}

/** An error with its code and cause chain, for the report. */
function describe(error: unknown, what: string): string {
  type Failure = { message?: string; code?: string; name?: string; cause?: unknown }
  const parts = [what]
  let current = error as Failure | undefined
  for (let depth = 0; current && depth < 4; depth++) {
    const code = current.code ? ` ${current.code}` : ''
    parts.push(`${current.name ?? 'Error'}${code}: ${String(current.message ?? current).slice(0, 200)}`)
    current = current.cause as Failure | undefined
  }
  return parts.join(' <- ')
}

/** Whether a pulled value is the one pushed last: same tag, and for bytes the same size. */
function matches(
  pulled: unknown,
  expected: { tag: string; size: number; offloaded: boolean } | undefined,
): boolean {
  if (!expected) return false
  if (pulled instanceof Uint8Array)
    return (
      pulled.byteLength === expected.size &&
      Buffer.from(pulled.subarray(0, 16)).toString('latin1').startsWith(expected.tag)
    )
  return (pulled as { tag?: string } | null)?.tag === expected.tag
}

// Entry point when forked by load.ts: the assignment comes from the environment, the result goes back over IPC.
if (process.env.XCOM_RELIABILITY_WORKER && process.send) {
  const config = JSON.parse(process.env.XCOM_RELIABILITY_WORKER) as WorkerConfig
  const result = await runWorker(config)
  process.send(result, () => process.exit(0))
}
