import { describeObjectStore } from '@xcom/testing'
import { explainRealSkip, type GcsTarget, realTarget, startLocal, storeOn } from './targets.ts'

let local: GcsTarget | undefined

// Small page size so listing paginates; a threshold of 0 sends every body through a resumable upload, a chunk size
// under the large object's size makes it cross chunk boundaries (308 answers).
describeObjectStore(
  'GcsObjectStore (test server, resumable uploads in 1 MiB chunks)',
  async ({ pageSize }) => {
    local = await startLocal()
    if (!local) throw new Error('The GCS test server did not start (see the warning above).')
    return storeOn(local, { pageSize, resumableThreshold: 0, chunkSize: 1024 * 1024 })
  },
  { teardown: () => local?.server?.stop() },
)

let single: GcsTarget | undefined
describeObjectStore(
  'GcsObjectStore (test server, default upload paths)',
  async ({ pageSize }) => {
    single = await startLocal()
    if (!single) throw new Error('The GCS test server did not start (see the warning above).')
    return storeOn(single, { pageSize })
  },
  { teardown: () => single?.server?.stop() },
)

const real = realTarget()
if (real) {
  describeObjectStore(`GcsObjectStore (${real.name})`, ({ pageSize }) => storeOn(real, { pageSize }))
} else {
  explainRealSkip()
}
