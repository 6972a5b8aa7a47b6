// Push+pull of a 256 MiB Uint8Array through XCom + ObjectStoreXComBackend + S3ObjectStore (threshold 0, so the value
// goes to S3, checksummed on the way up and verified on the way down), against the raw SDK doing the same transfer to
// the same s3rver in the same process: @aws-sdk/lib-storage `Upload` with its defaults, then GetObject +
// transformToByteArray(). Prints baseline time / xcom time (target >= 0.9), medians of interleaved rounds.
// Runs on the workspace sources, nothing to build first (`pnpm bench`):
//   node --conditions=@xcom/source --expose-gc bench/index.ts      (XCOM_BENCH_MIB, XCOM_BENCH_ROUNDS to vary)
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { compareTransfers, startS3rver, storeSide, xcomSide } from '@xcom/test-services'
import { S3ObjectStore } from '../src/index.ts'

const MiB = 1024 * 1024
const SIZE = Number(process.env.XCOM_BENCH_MIB ?? 256) * MiB
const ROUNDS = Number(process.env.XCOM_BENCH_ROUNDS ?? 7)
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
const store = new S3ObjectStore({ ...clientConfig, bucket: BUCKET, prefix: 'xcom' })
const xcom = new XCom({
  metadata: new MemoryMetadataStore(),
  backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
})
const id = { dagId: 'bench', runId: 'run', taskId: 'task' }

try {
  await compareTransfers({
    title: `@xcom/s3: push+pull of ${SIZE / MiB} MiB to s3rver`,
    size: SIZE,
    rounds: ROUNDS,
    subject: 'xcom',
    target: 0.9,
    sides: {
      raw: {
        label: 'raw SDK (Upload defaults + GetObject)',
        push: async () => {
          await new Upload({
            client: rawClient,
            params: { Bucket: BUCKET, Key: 'raw/value.bin', Body: data },
          }).done()
        },
        pull: async () => {
          const output = await rawClient.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'raw/value.bin' }))
          return (await output.Body?.transformToByteArray()) ?? new Uint8Array(0)
        },
      },
      xcom: xcomSide('S3ObjectStore', xcom, id, data),
      store: storeSide('S3ObjectStore', store, data),
    },
  })
} finally {
  await xcom.close()
  rawClient.destroy()
  await server.stop()
}
