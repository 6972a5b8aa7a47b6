// Encryption end to end: a 1 GiB binary value streamed through XCom.push (threshold 0, no compression) to a file://
// store with SQLite metadata, then read back with XCom.pullStream and hashed, with and without `encryption`, in one
// process. The value is generated chunk by chunk and never held whole. Prints MiB/s of push and pull for both (medians
// of interleaved rounds, encrypted first), the encrypted/plain ratio, and the RSS growth (max of 50 ms samples minus
// the baseline after a warm-up and a full collection) of each; exits 1 if an encrypted run grows RSS by 64 MiB or
// more. XCOM_BENCH_GIB changes the size (e.g. 0.25), XCOM_BENCH_ROUNDS the rounds (default 3).
// Run: `pnpm --filter @xcom/integration-tests bench` (part of `pnpm bench`).
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { XCom } from '@xcom/core'
import { aesGcmStream, generateKey, parseKeyList, staticKeys } from '@xcom/encryption'
import { FileObjectStore, ObjectStoreXComBackend } from '@xcom/objectstore'
import { SqliteMetadataStore } from '@xcom/sqlite'

const MiB = 1024 * 1024
const SIZE = Math.round(Number(process.env.XCOM_BENCH_GIB ?? 1) * 1024) * MiB
const CHUNK = MiB
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 3)
const RSS_LIMIT = 64 * MiB
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {})
const key = parseKeyList(generateKey('bench'))[0] as NonNullable<ReturnType<typeof parseKeyList>[0]>
const ID = { dagId: 'bench', runId: 'r1', taskId: 'big' }

/** `size` bytes in fresh 1 MiB chunks (a random block stamped with the chunk number), hashed as they are made. */
async function* generate(size: number, hash: ReturnType<typeof createHash>): AsyncIterable<Uint8Array> {
  const block = randomBytes(CHUNK)
  for (let offset = 0, n = 0; offset < size; offset += CHUNK, n++) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - offset))
    block.copy(chunk, 0, 0, chunk.length)
    chunk.writeUInt32BE(n, 0)
    hash.update(chunk)
    yield chunk
  }
}

/** The RSS high-water mark, sampled every 50 ms while `run` runs, minus `baseline`. */
async function rssGrowth<T>(baseline: number, run: () => Promise<T>): Promise<{ result: T; growth: number }> {
  let max = process.memoryUsage().rss
  const timer = setInterval(() => {
    max = Math.max(max, process.memoryUsage().rss)
  }, 50)
  try {
    const result = await run()
    max = Math.max(max, process.memoryUsage().rss)
    return { result, growth: max - baseline }
  } finally {
    clearInterval(timer)
  }
}

interface Run {
  push: number
  pull: number
  growth: number
}

/** Pushes `size` bytes as a stream, pulls them back as a stream, checks the hash; times each half. */
async function pushPull(xcom: XCom, size: number, baseline: number): Promise<Run> {
  const { result, growth } = await rssGrowth(baseline, async () => {
    const pushed = createHash('sha256')
    let started = performance.now()
    await xcom.push(ID, generate(size, pushed))
    const push = performance.now() - started
    started = performance.now()
    const pulled = createHash('sha256')
    let bytes = 0
    for await (const part of (await xcom.pullStream(ID)) as unknown as AsyncIterable<Uint8Array>) {
      pulled.update(part)
      bytes += part.byteLength
    }
    const pull = performance.now() - started
    if (bytes !== size || pulled.digest('hex') !== pushed.digest('hex'))
      throw new Error(`pulled ${bytes} bytes that differ from the ${size} pushed`)
    return { push, pull }
  })
  await xcom.clear({ dagId: ID.dagId })
  return { ...result, growth }
}

const dir = await mkdtemp(join(tmpdir(), 'xcom-encryption-bench-'))
const xcoms = {} as Record<'plain' | 'encrypted', XCom>
try {
  for (const side of ['plain', 'encrypted'] as const) {
    xcoms[side] = new XCom({
      metadata: new SqliteMetadataStore({ path: join(dir, `${side}.db`) }),
      logLevel: 'silent',
      backend: new ObjectStoreXComBackend({
        store: new FileObjectStore({ root: join(dir, side) }),
        threshold: 0,
        maxValueSize: Number.POSITIVE_INFINITY,
        ...(side === 'encrypted' ? { encryption: aesGcmStream({ keys: staticKeys([key]) }) } : {}),
      }),
    })
  }
  // Warm-up: both paths once with 64 MiB, then the baseline after a full collection.
  for (const xcom of Object.values(xcoms)) await pushPull(xcom, Math.min(SIZE, 64 * MiB), 0)
  collectGarbage()
  await new Promise((resolve) => setTimeout(resolve, 200))
  const baseline = process.memoryUsage().rss
  const rounds: Record<'plain' | 'encrypted', Run[]> = { plain: [], encrypted: [] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of ['encrypted', 'plain'] as const) {
      collectGarbage()
      rounds[side].push(await pushPull(xcoms[side], SIZE, baseline))
    }
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const summary = (runs: Run[]): Run => ({
    push: median(runs.map((run) => run.push)),
    pull: median(runs.map((run) => run.pull)),
    growth: Math.max(...runs.map((run) => run.growth)),
  })
  const runs = { plain: summary(rounds.plain), encrypted: summary(rounds.encrypted) }
  const mibs = (ms: number) => SIZE / MiB / (ms / 1000)
  const total = (run: Run) => run.push + run.pull
  console.log(
    `${(SIZE / 1024 / MiB).toFixed(2)} GiB streamed push + pullStream, file:// + SQLite, threshold 0, no compression, medians of ${ROUNDS} rounds, RSS growth: the largest` +
      `${globalThis.gc ? '' : ' (run with --expose-gc for a steadier baseline)'}`,
  )
  for (const side of ['encrypted', 'plain'] as const) {
    const run = runs[side]
    console.log(
      `  ${side.padEnd(10)} push ${mibs(run.push).toFixed(0).padStart(5)} MiB/s   pull ${mibs(run.pull).toFixed(0).padStart(5)} MiB/s   ` +
        `push+pull ${mibs(total(run)).toFixed(0).padStart(5)} MiB/s   RSS growth ${(run.growth / MiB).toFixed(1)} MiB`,
    )
  }
  console.log(
    `  encrypted/plain throughput ratio: push ${(runs.plain.push / runs.encrypted.push).toFixed(2)}, pull ${(runs.plain.pull / runs.encrypted.pull).toFixed(2)}, ` +
      `push+pull ${(total(runs.plain) / total(runs.encrypted)).toFixed(2)}`,
  )
  if (runs.encrypted.growth >= RSS_LIMIT) {
    console.error(
      `  FAIL: the encrypted run grew RSS by ${(runs.encrypted.growth / MiB).toFixed(1)} MiB (limit 64 MiB)`,
    )
    process.exitCode = 1
  }
} finally {
  await Promise.all(Object.values(xcoms).map((xcom) => xcom.close()))
  await rm(dir, { recursive: true, force: true })
}
