import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3'
import { type IncompleteReport, XComError } from '@xcom/core'
import { isUnsupported } from './errors.ts'

/** Where {@link abortIncompleteUploads} looks, and how it names what it finds. */
export interface UploadScope {
  client: S3Client
  bucket: string
  /** What every object key of the store starts with in the bucket: its prefix and `/`, or `""` at the bucket root. */
  base: string
  /** The store's URL, for messages. */
  storeUrl: string
  /** Uploads per ListMultipartUploads page (1-1000). */
  pageSize: number
  /** Maps an SDK error to an XComError (the store's error mapping, secrets scrubbed). */
  mapError: (error: unknown, action: string, uri: string) => XComError
  /** Told when the endpoint has no ListMultipartUploads (the report is then empty), with an error saying so. */
  onUnsupported: (error: XComError) => void
}

/**
 * Aborts every unfinished multipart upload under `scope.base` initiated before `startedBefore`: what an upload
 * interrupted by a crash or a kill leaves behind (its parts are stored, and billed, until aborted). Lists with
 * ListMultipartUploads page by page; an upload whose initiation time is unknown is kept (it may be in flight). An
 * upload gone meanwhile (completed or aborted by someone else) is neither removed nor failed. An endpoint without
 * ListMultipartUploads (s3rver) has no upload this can find: the report is empty and `scope.onUnsupported` is told.
 * @returns how many uploads were aborted, and `s3://.../<objectKey>?uploadId=...` of those that could not be.
 * @throws XComError when listing fails (`E_PERMISSION_DENIED` without `s3:ListBucketMultipartUploads`).
 */
export async function abortIncompleteUploads(
  scope: UploadScope,
  startedBefore: Date,
): Promise<IncompleteReport> {
  const { client, bucket, base } = scope
  const report: IncompleteReport = { removed: 0, failed: [] }
  const action = 'listing unfinished multipart uploads under'
  let keyMarker: string | undefined
  let uploadIdMarker: string | undefined
  for (;;) {
    let page: ListMultipartUploadsCommandOutput
    try {
      page = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: base || undefined,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
          MaxUploads: scope.pageSize,
        }),
      )
    } catch (error) {
      const mapped = scope.mapError(error, action, scope.storeUrl)
      if (!isUnsupported(error)) throw mapped
      scope.onUnsupported(
        new XComError(
          'E_BACKEND',
          `Unfinished multipart uploads under ${scope.storeUrl} cannot be found: the endpoint does not implement ListMultipartUploads, so gc() cannot remove what interrupted uploads left there. Remove them with the service's own tools.`,
          { uri: scope.storeUrl, cause: mapped },
        ),
      )
      return report
    }
    for (const upload of page.Uploads ?? []) {
      const { Key: fullKey, UploadId: uploadId, Initiated: initiated } = upload
      if (fullKey === undefined || uploadId === undefined || !fullKey.startsWith(base)) continue
      // Only an upload known to be older than the cutoff is aborted: one of unknown age may be in flight.
      if (!(initiated instanceof Date) || !(initiated.getTime() < startedBefore.getTime())) continue
      try {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: fullKey, UploadId: uploadId }),
        )
        report.removed++
      } catch (error) {
        if ((error as { name?: unknown } | null)?.name === 'NoSuchUpload') continue
        report.failed.push(`${scope.storeUrl}/${fullKey.slice(base.length)}?uploadId=${uploadId}`)
      }
    }
    if (!page.IsTruncated) return report
    // A truncated page without markers would list the same page forever.
    if (page.NextKeyMarker === undefined && page.NextUploadIdMarker === undefined) return report
    keyMarker = page.NextKeyMarker
    uploadIdMarker = page.NextUploadIdMarker
  }
}
