import type { ObjectInfo, ObjectStore, SweepContext, SweepReport } from '@xcom/core'
import { DATABASE_META } from './claim.ts'
import { isObjectKey, recordIdOf } from './keys.ts'
import { uriOf } from './store-util.ts'

/** Keys deleted per `deleteMany` call by the sweep. */
const SWEEP_BATCH = 1000

/**
 * Deletes the objects of the backend's key layout that no record of `ctx.database` owns, that name that database in
 * their metadata, and that were last modified before `cutoff`; then removes what interrupted writes left behind.
 * Objects are matched to records by record id, which is unique per push. A dry run counts and deletes nothing.
 */
export async function sweepStore(
  store: ObjectStore,
  ctx: SweepContext,
  cutoff: number,
): Promise<SweepReport> {
  const owned = new Set<string>()
  for await (const record of ctx.referenced()) owned.add(record.id.toLowerCase())
  const report: SweepReport = { scanned: 0, deleted: 0, failed: [], foreign: 0 }
  let batch: string[] = []
  const flush = async () => {
    const keys = batch
    batch = []
    if (ctx.dryRun) {
      report.deleted += keys.length
      return
    }
    const { failed } = await store.deleteMany(keys)
    report.deleted += keys.length - failed.length
    report.failed.push(...failed.map(({ objectKey }) => uriOf(store.url, objectKey)))
  }
  for await (const info of store.list('')) {
    if (!isObjectKey(info.objectKey)) continue
    report.scanned++
    ctx.onProgress?.(report.scanned)
    if (owned.has(recordIdOf(info.objectKey)) || info.lastModified.getTime() > cutoff) continue
    if ((await ownerOf(store, info)) !== ctx.database.id) {
      report.foreign = (report.foreign ?? 0) + 1
      continue
    }
    batch.push(info.objectKey)
    if (batch.length >= SWEEP_BATCH) await flush()
  }
  if (batch.length > 0) await flush()
  if (store.removeIncomplete && !ctx.dryRun) {
    try {
      const incomplete = await store.removeIncomplete(new Date(cutoff))
      report.incomplete = incomplete.removed
      report.failed.push(...incomplete.failed)
    } catch (error) {
      // The sweep's own work stands; the next gc() tries the leftovers again.
      report.failed.push(
        `${store.url} (leftovers of interrupted writes: ${(error as Error)?.message ?? String(error)})`,
      )
    }
  }
  return report
}

/** The database an object names; listings without metadata (S3) are completed by a `head`. */
async function ownerOf(store: ObjectStore, info: ObjectInfo): Promise<string | undefined> {
  if (Object.keys(info.metadata).length > 0) return info.metadata[DATABASE_META]
  return (await store.head(info.objectKey))?.metadata[DATABASE_META]
}
