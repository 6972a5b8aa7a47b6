import type { ContainerClient } from '@azure/storage-blob'
import type { XComError } from '@xcom/core'
import { codeOf, type ErrorMapper, httpStatus } from './errors.ts'

/** Most sub-requests one blob batch may hold. */
const BATCH_SIZE = 256

/** A key `deleteMany` could not delete, with why. */
export interface DeleteFailure {
  objectKey: string
  error: XComError
}

/** What a {@link BlobDeleter} needs of the store. */
export interface DeleteTarget {
  container: ContainerClient
  /** @throws XComError `E_INVALID_KEY` for a key `checkObjectKey` refuses. */
  blobName(objectKey: string): string
  uri(objectKey: string): string
  fail: ErrorMapper
  /** Start with blob batches (turned off for good at the first refusal). */
  batch: boolean
  /** Blobs deleted at once when deleting one at a time. */
  concurrency: number
}

/**
 * Deletes blobs (with their snapshots) in blob batches of up to 256, or one at a time where batches are refused.
 * Missing blobs are not failures.
 */
export class BlobDeleter {
  readonly #target: DeleteTarget
  #batch: boolean

  constructor(target: DeleteTarget) {
    this.#target = target
    this.#batch = target.batch
  }

  /** Deletes `objectKeys`; a key `checkObjectKey` refuses is a failure of its own, the others are still deleted. */
  async deleteMany(objectKeys: readonly string[]): Promise<{ failed: DeleteFailure[] }> {
    const failed: DeleteFailure[] = []
    const valid: string[] = []
    for (const objectKey of objectKeys) {
      try {
        this.#target.blobName(objectKey)
        valid.push(objectKey)
      } catch (error) {
        failed.push({ objectKey, error: error as XComError })
      }
    }
    for (let start = 0; start < valid.length; start += BATCH_SIZE) {
      const slice = valid.slice(start, start + BATCH_SIZE)
      const batchFailures = this.#batch && slice.length > 1 ? await this.#deleteBatch(slice) : undefined
      failed.push(...(batchFailures ?? (await this.#deleteEach(slice))))
    }
    return { failed }
  }

  /** One blob batch; undefined when the service refuses batches (the caller deletes one at a time, from now on). */
  async #deleteBatch(objectKeys: string[]): Promise<DeleteFailure[] | undefined> {
    const { container, blobName } = this.#target
    let response: Awaited<ReturnType<ReturnType<ContainerClient['getBlobBatchClient']>['deleteBlobs']>>
    try {
      const clients = objectKeys.map((objectKey) => container.getBlobClient(blobName(objectKey)))
      response = await container.getBlobBatchClient().deleteBlobs(clients, { deleteSnapshots: 'include' })
    } catch (error) {
      if (httpStatus(error) === undefined || codeOf(error) === 'E_PERMISSION_DENIED')
        return objectKeys.map((objectKey) => this.#failure(objectKey, error))
      this.#batch = false
      return undefined
    }
    const failed: DeleteFailure[] = []
    objectKeys.forEach((objectKey, index) => {
      const sub = response.subResponses[index]
      const status = sub?.status
      if (status !== undefined && (status < 300 || status === 404)) return
      failed.push(
        this.#failure(objectKey, {
          statusCode: status,
          code: sub?.errorCode,
          message: sub ? `${sub.status} ${sub.statusMessage}` : 'no sub-response in the batch response',
        }),
      )
    })
    return failed
  }

  async #deleteEach(objectKeys: string[]): Promise<DeleteFailure[]> {
    const { container, blobName } = this.#target
    const failed: DeleteFailure[] = []
    await forEachLimit(objectKeys, this.#target.concurrency, async (objectKey) => {
      try {
        await container.getBlobClient(blobName(objectKey)).delete({ deleteSnapshots: 'include' })
      } catch (error) {
        if (codeOf(error) !== 'E_NOT_FOUND') failed.push(this.#failure(objectKey, error))
      }
    })
    return failed
  }

  #failure(objectKey: string, error: unknown): DeleteFailure {
    return { objectKey, error: this.#target.fail(error, 'deleting', this.#target.uri(objectKey)) }
  }
}

/** Runs `run` on every item, at most `limit` at once, in order of start. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await run(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
