// Push+pull of a 256 MiB Uint8Array through XCom + ObjectStoreXComBackend + S3ObjectStore (threshold 0, so the value
// goes to S3, checksummed on the way up and verified on the way down), against the raw SDK doing the same transfer to
// the same s3rver in the same process: @aws-sdk/lib-storage `Upload` with its defaults, then GetObject +
// transformToByteArray(). Prints baseline time / xcom time (target >= 0.9).
// Run after building @xcom/core, @xcom/objectstore and this package: node --expose-gc bench/index.ts
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { startS3rver } from '@xcom/test-services'
import { S3ObjectStore } from '../dist/index.js'

const MiB = 1024 * 1024
const SIZE = Number(process.env.XCOM_BENCH_MIB ?? 256) * MiB
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 5)
const BUCKET = 'xcom-bench'

const server = await startS3rver({ bucket: BUCKET })
const clientConfig = {
  endpoint: server.endpoint,
  region: server.region,
  forcePathStyle: true,
  credentials: server.credentials,
}
const data = new Uint8Array(SIZE)
for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) & 0xff

const rawClient = new S3Client(clientConfig)
async function runRaw(): Promise<void> {
  await new Upload({ client: rawClient, params: { Bucket: BUCKET, Key: 'raw/value.bin', Body: data } }).done()
  const output = await rawClient.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'raw/value.bin' }))
  const back = await output.Body?.transformToByteArray()
  if (back?.byteLength !== SIZE) throw new Error('raw SDK read back the wrong size')
}

const store = new S3ObjectStore({
  ...clientConfig,
  bucket: BUCKET,
  prefix: 'xcom',
  readConcurrency: Number(process.env.RC ?? 4),
  partSize: Number(process.env.PS ?? 16) * MiB,
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
}

// Warm up both paths (connections, JIT), then alternate the two sides so load from elsewhere hits both alike.
const totals = { raw: 0, xcom: 0 }
async function time(side: keyof typeof totals, run: () => Promise<void>): Promise<void> {
  globalThis.gc?.()
  const start = performance.now()
  await run()
  totals[side] += performance.now() - start
}
await runRaw()
await runXCom()
for (let round = 0; round < ROUNDS; round++) {
  await time('raw', runRaw)
  await time('xcom', runXCom)
}

const mean = (ms: number) => ms / ROUNDS
const rate = (ms: number) => ((2 * SIZE) / MiB / (mean(ms) / 1000)).toFixed(0)
console.log(`@xcom/s3: push+pull of ${SIZE / MiB} MiB to s3rver, mean of ${ROUNDS} interleaved rounds`)
console.log(
  `  raw SDK (Upload defaults + GetObject):        ${mean(totals.raw).toFixed(0)} ms (${rate(totals.raw)} MiB/s)`,
)
console.log(
  `  XCom + ObjectStoreXComBackend + S3ObjectStore: ${mean(totals.xcom).toFixed(0)} ms (${rate(totals.xcom)} MiB/s)`,
)
console.log(`  ratio raw/xcom: ${(totals.raw / totals.xcom).toFixed(2)} (target >= 0.9)`)

await xcom.close()
rawClient.destroy()
await server.stop()
