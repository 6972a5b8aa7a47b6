// Push+pull of a 256 MiB Uint8Array through XCom + ObjectStoreXComBackend + GcsObjectStore (threshold 0, so the value
// goes to GCS, checksummed on the way up and verified on the way down), against the raw SDK doing the same transfer
// to the same GCS test server in the same process: `file.save(bytes)` (its default resumable upload, create-only) and
// `file.download()`, both with the SDK's default crc32c validation. Prints baseline time / xcom time (target >= 0.9).
// Run after building @xcom/core, @xcom/objectstore, @xcom/test-services and this package:
//   node --expose-gc bench/index.ts        (XCOM_BENCH_MIB, XCOM_BENCH_ROUNDS, XCOM_BENCH_CHUNK_MIB (0: one PUT) to vary)
import { Storage, type StorageOptions } from '@google-cloud/storage'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { startGcsServer } from '@xcom/test-services'
import { fastCrc32cValidator, GcsObjectStore } from '../dist/index.js'

const MiB = 1024 * 1024
const SIZE = Number(process.env.XCOM_BENCH_MIB ?? 256) * MiB
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 3)
const CHUNK =
  process.env.XCOM_BENCH_CHUNK_MIB === undefined ? undefined : Number(process.env.XCOM_BENCH_CHUNK_MIB) * MiB
const BUCKET = 'xcom-bench'

const server = await startGcsServer({ buckets: [BUCKET], maxObjectSize: SIZE + MiB })
const data = new Uint8Array(SIZE)
for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) & 0xff

/** The raw SDK: `file.save(bytes)` then `file.download()`, on a client with `storageOptions`. */
function rawRun(storageOptions: StorageOptions): () => Promise<void> {
  const bucket = new Storage({
    apiEndpoint: server.apiEndpoint,
    projectId: server.projectId,
    ...storageOptions,
  }).bucket(BUCKET)
  return async () => {
    const file = bucket.file('raw/value.bin')
    // Create-only, so the SDK retries the upload too: the test server closes idle keep-alive sockets after 5 s and a
    // request sent on one just then fails with ECONNRESET, which the SDK retries only for idempotent requests.
    await file.save(data, { preconditionOpts: { ifGenerationMatch: 0 } })
    const [back] = await file.download()
    if (back.byteLength !== SIZE) throw new Error('raw SDK read back the wrong size')
    server.deleteObject(BUCKET, 'raw/value.bin')
  }
}
// The baseline: the SDK as it comes. For information, the SDK with the store's faster CRC-32C too, which shows the
// adapter's own overhead.
const runRaw = rawRun({})
const runRawFastCrc = rawRun({ crc32cGenerator: fastCrc32cValidator })

const store = new GcsObjectStore({
  bucket: BUCKET,
  prefix: 'xcom',
  apiEndpoint: server.apiEndpoint,
  projectId: server.projectId,
  ...(CHUNK === undefined ? {} : { chunkSize: CHUNK }),
})
const xcom = new XCom({
  metadata: new MemoryMetadataStore(),
  backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
})
const id = { dagId: 'bench', runId: 'run', taskId: 'task' }
async function runXCom(): Promise<void> {
  await xcom.push(id, data)
  const back = (await xcom.pull(id)) as Uint8Array
  if (back.byteLength !== SIZE) throw new Error('xcom read back the wrong size')
  await xcom.clear({ dagId: 'bench' })
}

// Warm up both paths (connections, JIT), then alternate the two sides so load from elsewhere hits both alike.
const totals = { raw: 0, rawFastCrc: 0, xcom: 0 }
async function time(side: keyof typeof totals, run: () => Promise<void>): Promise<void> {
  globalThis.gc?.()
  const start = performance.now()
  await run()
  totals[side] += performance.now() - start
}
await runRaw()
await runRawFastCrc()
await runXCom()
for (let round = 0; round < ROUNDS; round++) {
  await time('raw', runRaw)
  await time('xcom', runXCom)
  await time('rawFastCrc', runRawFastCrc)
}

const mean = (ms: number) => ms / ROUNDS
const rate = (ms: number) => ((2 * SIZE) / MiB / (mean(ms) / 1000)).toFixed(0)
const mode =
  CHUNK === undefined
    ? 'default 16 MiB chunks'
    : CHUNK === 0
      ? 'one streamed PUT'
      : `${CHUNK / MiB} MiB chunks`
console.log(
  `@xcom/gcs: push+pull of ${SIZE / MiB} MiB to the GCS test server (${mode}), mean of ${ROUNDS} interleaved rounds`,
)
console.log(
  `  raw SDK (file.save + file.download):            ${mean(totals.raw).toFixed(0)} ms (${rate(totals.raw)} MiB/s)`,
)
console.log(
  `  XCom + ObjectStoreXComBackend + GcsObjectStore: ${mean(totals.xcom).toFixed(0)} ms (${rate(totals.xcom)} MiB/s)`,
)
console.log(
  `  raw SDK with the store's fast CRC-32C:          ${mean(totals.rawFastCrc).toFixed(0)} ms (${rate(totals.rawFastCrc)} MiB/s)`,
)
console.log(`  ratio raw/xcom: ${(totals.raw / totals.xcom).toFixed(2)} (target >= 0.9)`)
console.log(
  `  ratio raw-with-fast-crc/xcom (adapter overhead only): ${(totals.rawFastCrc / totals.xcom).toFixed(2)}`,
)

await xcom.close()
await server.stop()
