// Benchmarks of @xcom/objectstore through file://, each against plain fs in the same run:
//   1. push + pull of a 256 MiB Uint8Array vs fs.writeFile + fs.readFile of the same bytes;
//   2. push + pull of ~50 MB of JSON records vs JSON.stringify + writeFile + readFile + JSON.parse;
//   3. RSS growth while pushing a 1 GiB stream and pulling it back as a stream (child process: the memory-bound test's
//      fixture, run on the sources).
// Each also runs, for reading the figures, xcom with `checksum: 'sha256'` (the default is crc32) and, for JSON, the
// serializers alone.
// All run on the TypeScript sources: node --conditions=@xcom/source --expose-gc bench/index.ts
// (XCOM_BENCH_ROUNDS=9 for more rounds; the medians are reported, with the load average before and after).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { sourceNodeFlags } from '@xcom/testing'
import { type ChecksumAlgorithm, FileObjectStore, ObjectStoreXComBackend } from '../src/index.ts'

const MiB = 1024 * 1024
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 7)
/** Untimed rounds first: the first runs in a process are slower (JIT, first-touch of memory, directories). */
const WARM_UP_ROUNDS = 2
const gc = () => (globalThis as { gc?: () => void }).gc?.()
const work = mkdtempSync(join(tmpdir(), 'xcom-objectstore-bench-'))

function makeXCom(checksum: ChecksumAlgorithm = 'crc32') {
  return new XCom({
    metadata: new MemoryMetadataStore(),
    backend: new ObjectStoreXComBackend({
      store: new FileObjectStore({ root: join(work, `store-${checksum}`) }),
      threshold: 64 * 1024,
      checksum,
    }),
  })
}

/**
 * Median seconds of `rounds` runs of each contender, after {@link WARM_UP_ROUNDS} untimed ones, interleaved so they all
 * see the same machine state. XCOM_BENCH_VERBOSE=1 prints every timed run.
 */
async function race(
  contenders: Record<string, () => Promise<void>>,
  rounds = ROUNDS,
): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(
    Object.keys(contenders).map((name) => [name, []]),
  )
  for (let round = -WARM_UP_ROUNDS; round < rounds; round++) {
    for (const [name, run] of Object.entries(contenders)) {
      // Start each run with no dirty pages left by the previous one (or by a build just before): the kernel's
      // writeback would otherwise land on whichever contender runs next.
      spawnSync('sync')
      gc()
      const started = performance.now()
      await run()
      if (round >= 0) times[name]?.push((performance.now() - started) / 1000)
    }
  }
  if (process.env.XCOM_BENCH_VERBOSE) {
    for (const [name, list] of Object.entries(times))
      console.log(`  ${name}: ${list.map((seconds) => (seconds * 1000).toFixed(0)).join(' ')} ms`)
  }
  return Object.fromEntries(
    Object.entries(times).map(([name, list]) => [
      name,
      list.sort((a, b) => a - b)[Math.floor(list.length / 2)] as number,
    ]),
  )
}

function report(
  title: string,
  megabytes: number,
  times: Record<string, number>,
  ours: string,
  baseline: string,
) {
  console.log(`\n${title}`)
  for (const [name, seconds] of Object.entries(times)) {
    console.log(
      `  ${name.padEnd(40)} ${seconds.toFixed(3)} s  ${(megabytes / seconds).toFixed(0).padStart(6)} MB/s`,
    )
  }
  const ratio = (times[baseline] as number) / (times[ours] as number)
  const sha = (times[baseline] as number) / (times[SHA256] as number)
  console.log(`  ratio (baseline time / xcom time)        ${ratio.toFixed(2)}x  (target >= 0.85x)`)
  console.log(`  ratio with checksum: 'sha256'            ${sha.toFixed(2)}x  (for information)`)
  return ratio
}

const id = { dagId: 'bench', runId: 'run', taskId: 'task' }
const SHA256 = "xcom, checksum: 'sha256'"
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')
console.log(`load average before: ${load()}`)

// 1. A 256 MiB Uint8Array.
{
  const bytes = new Uint8Array(256 * MiB)
  for (let index = 0; index < bytes.length; index += 4096) bytes[index] = index & 0xff
  const xcom = makeXCom()
  const pinned = makeXCom('sha256')
  const plain = join(work, 'plain.bin')
  const times = await race({
    'xcom push + pull (file://)': async () => {
      await xcom.push(id, bytes)
      const back = (await xcom.pull(id)) as Uint8Array
      if (back.byteLength !== bytes.byteLength) throw new Error('size mismatch')
      await xcom.clear({ dagId: 'bench' })
    },
    'fs.writeFile + fs.readFile': async () => {
      await writeFile(plain, bytes)
      const back = await readFile(plain)
      if (back.byteLength !== bytes.byteLength) throw new Error('size mismatch')
      await rm(plain)
    },
    [SHA256]: async () => {
      await pinned.push(id, bytes)
      const back = (await pinned.pull(id)) as Uint8Array
      if (back.byteLength !== bytes.byteLength) throw new Error('size mismatch')
      await pinned.clear({ dagId: 'bench' })
    },
  })
  report(
    '256 MiB Uint8Array, push + pull',
    256 * 1.048576,
    times,
    'xcom push + pull (file://)',
    'fs.writeFile + fs.readFile',
  )
}

// 2. ~50 MB of JSON records.
{
  const records = Array.from({ length: 300_000 }, (_, index) => ({
    id: index,
    name: `record-${index}`,
    active: index % 3 === 0,
    score: index * 0.125,
    tags: ['alpha', 'beta', `t${index % 17}`],
    nested: { city: 'Zürich', zip: String(8000 + (index % 100)), at: '2024-01-01T00:00:00Z' },
  }))
  const size = Buffer.byteLength(JSON.stringify(records))
  const xcom = makeXCom()
  const pinned = makeXCom('sha256')
  const plain = join(work, 'plain.json')
  const times = await race({
    'xcom push + pull (file://)': async () => {
      await xcom.push(id, records)
      const back = (await xcom.pull(id)) as unknown[]
      if (back.length !== records.length) throw new Error('length mismatch')
      await xcom.clear({ dagId: 'bench' })
    },
    'stringify + writeFile + readFile + parse': async () => {
      await writeFile(plain, JSON.stringify(records))
      const back = JSON.parse(await readFile(plain, 'utf8')) as unknown[]
      if (back.length !== records.length) throw new Error('length mismatch')
      await rm(plain)
    },
    [SHA256]: async () => {
      await pinned.push(id, records)
      const back = (await pinned.pull(id)) as unknown[]
      if (back.length !== records.length) throw new Error('length mismatch')
      await pinned.clear({ dagId: 'bench' })
    },
    // For reading the figures: how much of each side is serialization, without any I/O.
    'core serializer round trip only': async () => {
      const serializer = (xcom.backend as ObjectStoreXComBackend).serializer
      const back = serializer.deserialize(serializer.serialize(records)) as unknown[]
      if (back.length !== records.length) throw new Error('length mismatch')
    },
    'JSON.stringify + parse only': async () => {
      const back = JSON.parse(JSON.stringify(records)) as unknown[]
      if (back.length !== records.length) throw new Error('length mismatch')
    },
  })
  report(
    `${(size / 1e6).toFixed(1)} MB of JSON records, push + pull`,
    size / 1e6,
    times,
    'xcom push + pull (file://)',
    'stringify + writeFile + readFile + parse',
  )
}

// 3. RSS growth while pushing a 1 GiB stream and pulling it back, in a fresh process.
{
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      ...sourceNodeFlags(),
      '--no-warnings',
      join(import.meta.dirname, '..', 'test', 'fixtures', 'rss-child.ts'),
      '1024',
      join(work, 'rss'),
    ],
    { encoding: 'utf8' },
  )
  if (child.status !== 0) throw new Error(child.stderr)
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as {
    size: number
    pushGrowth: number
    pullGrowth: number
    seconds: number
  }
  console.log('\n1 GiB stream push and streamed pull (child process)')
  console.log(
    `  pushed ${(result.size / MiB).toFixed(0)} MiB in ${result.seconds.toFixed(2)} s (${(result.size / 1e6 / result.seconds).toFixed(0)} MB/s)`,
  )
  console.log(
    `  RSS growth: push ${(result.pushGrowth / MiB).toFixed(1)} MiB, pull ${(result.pullGrowth / MiB).toFixed(1)} MiB  (target < 128 MiB)`,
  )
}

console.log(`\nload average after: ${load()}`)
rmSync(work, { recursive: true, force: true })
