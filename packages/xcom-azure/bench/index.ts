// Push+pull of a 256 MiB Uint8Array through XCom + ObjectStoreXComBackend + AzureBlobObjectStore (threshold 0, so the
// value goes to azurite, checksummed on the way up and verified on the way down), against the raw SDK doing the same
// transfer to the same azurite in the same process: BlockBlobClient.uploadData() with its defaults, then download()
// with its body stream read into one buffer. Prints baseline time / xcom time (target >= 0.9), medians of interleaved rounds.
// Run after building @xcom/core, @xcom/objectstore, @xcom/test-services and this package:
//   node --expose-gc bench/index.ts            (XCOM_BENCH_MIB, XCOM_BENCH_ROUNDS, XCOM_BENCH_BLOCK_MIB, XCOM_BENCH_CONCURRENCY)
import { BlobServiceClient } from '@azure/storage-blob'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { startAzurite } from '@xcom/test-services'
import { AzureBlobObjectStore } from '../dist/index.js'

const MiB = 1024 * 1024
const SIZE = Number(process.env.XCOM_BENCH_MIB ?? 256) * MiB
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 7)
const CONTAINER = 'xcom-bench'
const blockSize = process.env.XCOM_BENCH_BLOCK_MIB
  ? Number(process.env.XCOM_BENCH_BLOCK_MIB) * MiB
  : undefined
const concurrency = process.env.XCOM_BENCH_CONCURRENCY
  ? Number(process.env.XCOM_BENCH_CONCURRENCY)
  : undefined

const azurite = await startAzurite()
const service = BlobServiceClient.fromConnectionString(azurite.connectionString)
await service.getContainerClient(CONTAINER).create()
const data = new Uint8Array(SIZE)
for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) & 0xff

const rawBlob = service.getContainerClient(CONTAINER).getBlockBlobClient('raw/value.bin')
const rawSide = {
  async push(): Promise<void> {
    await rawBlob.uploadData(data)
  },
  async pull(): Promise<void> {
    const response = await rawBlob.download()
    const chunks: Uint8Array[] = []
    for await (const chunk of response.readableStreamBody ?? []) chunks.push(chunk as Uint8Array)
    if (Buffer.concat(chunks).byteLength !== SIZE) throw new Error('raw SDK read back the wrong size')
  },
}

const store = new AzureBlobObjectStore({
  connectionString: azurite.connectionString,
  container: CONTAINER,
  prefix: 'xcom',
  blockSize,
  concurrency,
})
const xcom = new XCom({
  metadata: new MemoryMetadataStore(),
  backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
})
const id = { dagId: 'bench', runId: 'run', taskId: 'task' }
const xcomSide = {
  async push(): Promise<void> {
    await xcom.push(id, data)
  },
  async pull(): Promise<void> {
    const back = (await xcom.pull(id)) as Uint8Array
    if (back.byteLength !== SIZE) throw new Error('xcom read back the wrong size')
  },
}

// The adapter alone, without the backend's SHA-256 on the way up and down: what the adapter adds or saves.
const storeSide = {
  async push(): Promise<void> {
    await store.put('store-only/value.bin', data)
  },
  async pull(): Promise<void> {
    const back = await (await store.get('store-only/value.bin')).bytes()
    if (back.byteLength !== SIZE) throw new Error('the store read back the wrong size')
  },
}

// Warm up every path (connections, JIT), then alternate the sides round by round so load from elsewhere hits them
// alike; report medians, which one disturbed round does not move.
type Side = 'raw' | 'xcom' | 'store'
const samples: Record<Side, { push: number[]; pull: number[]; both: number[] }> = {
  raw: { push: [], pull: [], both: [] },
  xcom: { push: [], pull: [], both: [] },
  store: { push: [], pull: [], both: [] },
}
async function time(side: Side, run: typeof rawSide): Promise<void> {
  const took = { push: 0, pull: 0 }
  for (const step of ['push', 'pull'] as const) {
    globalThis.gc?.()
    const start = performance.now()
    await run[step]()
    took[step] = performance.now() - start
  }
  samples[side].push.push(took.push)
  samples[side].pull.push(took.pull)
  samples[side].both.push(took.push + took.pull)
}
try {
  for (const side of [rawSide, xcomSide, storeSide]) {
    await side.push()
    await side.pull()
  }
  for (let round = 0; round < ROUNDS; round++) {
    await time('raw', rawSide)
    await time('xcom', xcomSide)
    await time('store', storeSide)
  }
} finally {
  await xcom.close()
  await azurite.stop()
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
const ms = (value: number) => `${value.toFixed(0)} ms`
const line = (label: string, side: Side) => {
  const total = median(samples[side].both)
  const rate = ((2 * SIZE) / MiB / (total / 1000)).toFixed(0)
  return `  ${label.padEnd(54)} ${ms(total).padStart(8)} (${rate} MiB/s; push ${ms(median(samples[side].push))}, pull ${ms(median(samples[side].pull))})`
}
const ratio = (side: Side) => (median(samples.raw.both) / median(samples[side].both)).toFixed(2)
const tuning = `blockSize ${(blockSize ?? 16 * MiB) / MiB} MiB, concurrency ${concurrency ?? 4}`
console.log(
  `@xcom/azure: push+pull of ${SIZE / MiB} MiB to azurite, median of ${ROUNDS} interleaved rounds (${tuning})`,
)
console.log(line('raw SDK (uploadData defaults + download stream)', 'raw'))
console.log(line('XCom + ObjectStoreXComBackend + AzureBlobObjectStore', 'xcom'))
console.log(line('AzureBlobObjectStore alone (put bytes + get bytes)', 'store'))
console.log(`  ratio raw/xcom: ${ratio('xcom')} (target >= 0.9)`)
console.log(`  ratio raw/store (the adapter without the backend's checksums): ${ratio('store')}`)
