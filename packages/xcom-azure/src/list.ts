import type { BlobItem, ContainerClient, ContainerListBlobsOptions } from '@azure/storage-blob'
import type { XComError } from '@xcom/core'

/**
 * The blobs of a flat listing, one page of at most `pageSize` at a time.
 * @throws XComError from `fail` when a page cannot be fetched.
 */
export async function* listBlobPages(
  container: ContainerClient,
  options: ContainerListBlobsOptions,
  pageSize: number,
  fail: (error: unknown) => XComError,
): AsyncGenerator<BlobItem[]> {
  const pages = container.listBlobsFlat(options).byPage({ maxPageSize: pageSize })
  try {
    for await (const page of pages) yield page.segment.blobItems
  } catch (error) {
    throw fail(error)
  }
}
