/*
 * Leftovers of interrupted block uploads. A staged upload killed before its commit leaves an "uncommitted blob": only
 * listed with `include=uncommittedblobs`, with no committed bytes (Content-Length 0), answered 404 by Get Blob
 * Properties, and discarded by Azure a week after its last block. It is freed sooner by committing an empty block list
 * with `If-None-Match: *` (which drops every uncommitted block, and is refused for any blob with a committed version),
 * then deleting that empty blob pinned to its ETag. A plain Delete Blob does not free it (azurite accepts it and keeps
 * the blocks). The empty commit carries a marker, so an empty blob whose delete failed is found and deleted next time.
 */
import type { BlobItem, BlockBlobClient, ContainerClient } from '@azure/storage-blob'
import type { IncompleteReport } from '@xcom/core'
import { forEachLimit } from './delete.ts'
import { codeOf, type ErrorMapper } from './errors.ts'
import { listBlobPages } from './list.ts'

/** Metadata of the empty blob an uncommitted blob is turned into just before its delete. */
const DISCARDING = 'xcom_discarding'

/** What {@link removeUncommittedBlobs} needs of the store. */
export interface UncommittedScan {
  /** Blob name prefix to scan: the store's prefix and `/`, or `""`. */
  namePrefix: string
  /** Blobs whose upload started at or after this are left alone. */
  startedBefore: Date
  pageSize: number
  /** Blobs removed at once. */
  concurrency: number
  /** The store's URL, for messages. */
  storeUrl: string
  /** The URI of a blob name, for `failed`. */
  uriOf(name: string): string
  fail: ErrorMapper
}

/**
 * Removes the uncommitted blobs under `namePrefix` whose upload started before `startedBefore`. Committed blobs are
 * never changed, including those with a newer upload in progress (their uncommitted blocks stay until Azure discards
 * them). Failures to remove one blob are reported in `failed` as its URI.
 * @throws XComError when the listing fails (`E_NOT_FOUND` for a missing container, `E_PERMISSION_DENIED`, `E_BACKEND`).
 */
export async function removeUncommittedBlobs(
  container: ContainerClient,
  scan: UncommittedScan,
): Promise<IncompleteReport> {
  const report: IncompleteReport = { removed: 0, failed: [] }
  const pages = listBlobPages(
    container,
    { prefix: scan.namePrefix, includeUncommitedBlobs: true, includeMetadata: true },
    scan.pageSize,
    (error) => scan.fail(error, 'listing the uncommitted blobs of', scan.storeUrl),
  )
  for await (const page of pages) {
    const items = page.filter((item) => isCandidate(item, scan.startedBefore))
    await forEachLimit(items, scan.concurrency, async (item) => {
      try {
        if (await discard(container.getBlockBlobClient(item.name), item)) report.removed++
      } catch {
        report.failed.push(scan.uriOf(item.name))
      }
    })
  }
  return report
}

/** A blob that may be an old uncommitted one (a committed empty blob passes too: the commit's condition refuses it). */
function isCandidate(item: BlobItem, startedBefore: Date): boolean {
  if (item.properties.contentLength !== 0) return false
  if (item.metadata?.[DISCARDING] === 'true') return true
  return item.properties.lastModified < startedBefore && item.metadata?.hdi_isfolder !== 'true'
}

/** Frees one uncommitted blob; false when it turns out to be committed (not a leftover). */
async function discard(blob: BlockBlobClient, item: BlobItem): Promise<boolean> {
  let etag: string | undefined = item.properties.etag
  if (item.metadata?.[DISCARDING] !== 'true') {
    try {
      ;({ etag } = await blob.commitBlockList([], {
        conditions: { ifNoneMatch: '*' },
        metadata: { [DISCARDING]: 'true' },
      }))
    } catch (error) {
      // 409/412: a committed version exists (perhaps committed since the listing); 404: the container went away.
      const code = codeOf(error)
      if (code === 'E_PRECONDITION_FAILED' || code === 'E_NOT_FOUND') return false
      throw error
    }
  }
  try {
    await blob.delete({ conditions: etag ? { ifMatch: etag } : {} })
  } catch (error) {
    // Deleted by another sweep, or replaced by a writer since: the uncommitted blocks are gone either way.
    const code = codeOf(error)
    if (code !== 'E_NOT_FOUND' && code !== 'E_PRECONDITION_FAILED') throw error
  }
  return true
}
