// Push+pull of a 256 MiB Uint8Array through XCom + ObjectStoreXComBackend + GcsObjectStore (threshold 0, so the value
// goes to GCS, checksummed on the way up and verified on the way down), against the raw SDK doing the same transfer
// to the same GCS test server in the same process: `file.save(bytes)` (its default resumable upload, create-only) and
// `file.download()`, both with the SDK's default crc32c validation. Prints baseline time / xcom time (target >= 0.9),
// medians of interleaved rounds.
// Run from the sources (`pnpm bench`):
//   node --conditions=@xcom/source --expose-gc bench/index.ts
//   (XCOM_BENCH_MIB, XCOM_BENCH_ROUNDS, XCOM_BENCH_CHUNK_MIB (0: one PUT) to vary)
import { Storage, type StorageOptions } from '@google-cloud/storage'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { compareTransfers, startGcsServer, xcomSide } from '@xcom/test-services'
import { fastCrc32cValidator } from '../src/crc32c.ts'
import { GcsObjectStore } from '../src/index.ts'

const MiB = 1024 * 1024
const SIZE = Number(process.env.XCOM_BENCH_MIB ?? 256) * MiB
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 5)
const CHUNK =
  process.env.XCOM_BENCH_CHUNK_MIB === undefined ? undefined : Number(process.env.XCOM_BENCH_CHUNK_MIB) * MiB
const BUCKET = 'xcom-bench'

const server = await startGcsServer({ buckets: [BUCKET], maxObjectSize: SIZE + MiB })
const data = new Uint8Array(SIZE)
for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) & 0xff

/** The raw SDK: `file.save(bytes)` then `file.download()`, on a client with `storageOptions`. */
function rawSide(label: string, key: string, storageOptions: StorageOptions) {
  const file = new Storage({
    apiEndpoint: server.apiEndpoint,
    projectId: server.projectId,
    ...storageOptions,
  })
    .bucket(BUCKET)
    .file(key)
  return {
    label,
    push: async () => {
      server.deleteObject(BUCKET, key)
      // Create-only, so the SDK retries the upload too: the test server closes idle keep-alive sockets after 5 s and a
      // request sent on one just then fails with ECONNRESET, which the SDK retries only for idempotent requests.
      await file.save(data, { preconditionOpts: { ifGenerationMatch: 0 } })
    },
    pull: async () => (await file.download())[0],
  }
}

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
const mode =
  CHUNK === undefined
    ? 'default 16 MiB chunks'
    : CHUNK === 0
      ? 'one streamed PUT'
      : `${CHUNK / MiB} MiB chunks`

try {
  await compareTransfers({
    title: `@xcom/gcs: push+pull of ${SIZE / MiB} MiB to the GCS test server (${mode})`,
    size: SIZE,
    rounds: ROUNDS,
    subject: 'xcom',
    target: 0.9,
    sides: {
      // The baseline: the SDK as it comes (its crc32c validation on both ways, in JavaScript).
      raw: rawSide('raw SDK (file.save + file.download)', 'raw/value.bin', {}),
      xcom: xcomSide('GcsObjectStore', xcom, id, data),
      // For information: the SDK with the store's faster CRC-32C too, which shows the adapter's own overhead.
      rawFastCrc: rawSide("raw SDK with the store's fast CRC-32C", 'raw/fast.bin', {
        crc32cGenerator: fastCrc32cValidator,
      }),
    },
  })
} finally {
  await xcom.close()
  await server.stop()
}
