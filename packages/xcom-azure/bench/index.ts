// Push+pull of a 256 MiB Uint8Array through XCom + ObjectStoreXComBackend + AzureBlobObjectStore (threshold 0, so the
// value goes to azurite, checksummed on the way up and verified on the way down), against the raw SDK doing the same
// transfer to the same azurite in the same process: BlockBlobClient.uploadData() with its defaults, then download()
// with its body stream read into one buffer. Prints baseline time / xcom time (target >= 0.9), medians of interleaved rounds.
// Runs on the workspace sources, nothing to build first:
//   node --conditions=@xcom/source --expose-gc bench/index.ts            (XCOM_BENCH_MIB, XCOM_BENCH_ROUNDS, XCOM_BENCH_BLOCK_MIB, XCOM_BENCH_CONCURRENCY)
import { BlobServiceClient } from '@azure/storage-blob'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { compareTransfers, startAzurite, storeSide, xcomSide } from '@xcom/test-services'
import { AzureBlobObjectStore } from '../src/index.ts'

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

const azurite = await startAzurite({ containers: [CONTAINER] })
const service = BlobServiceClient.fromConnectionString(azurite.connectionString)
const data = new Uint8Array(SIZE)
for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) & 0xff

const rawBlob = service.getContainerClient(CONTAINER).getBlockBlobClient('raw/value.bin')
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
const tuning = `blockSize ${(blockSize ?? 16 * MiB) / MiB} MiB, concurrency ${concurrency ?? 4}`

try {
  await compareTransfers({
    title: `@xcom/azure: push+pull of ${SIZE / MiB} MiB to azurite (${tuning})`,
    size: SIZE,
    rounds: ROUNDS,
    subject: 'xcom',
    target: 0.9,
    sides: {
      raw: {
        label: 'raw SDK (uploadData defaults + download stream)',
        push: async () => {
          await rawBlob.uploadData(data)
        },
        pull: async () => {
          const response = await rawBlob.download()
          const chunks: Uint8Array[] = []
          for await (const chunk of response.readableStreamBody ?? []) chunks.push(chunk as Uint8Array)
          return Buffer.concat(chunks)
        },
      },
      xcom: xcomSide('AzureBlobObjectStore', xcom, id, data),
      store: storeSide('AzureBlobObjectStore', store, data),
    },
  })
} finally {
  await xcom.close()
  await azurite.stop()
}
