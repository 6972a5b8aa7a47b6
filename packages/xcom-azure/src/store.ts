/*
 * AzureBlobObjectStore layout: one block blob per object in one container. The blob name is the store's prefix and the
 * object key joined with '/' (`<prefix>/<objectKey>`, or `<objectKey>` without a prefix); keys are used as given, never
 * re-encoded, and the prefix is stripped again when listing. User metadata is stored as blob metadata, its names mapped
 * to C# identifiers (`xcom-dag-id` <-> `xcom_dag_id`, see metadata.ts). A body of at most `blockSize` bytes goes up in
 * one Put Blob request; a larger one is staged as blocks of `blockSize` bytes (each with its Content-MD5, at most
 * `concurrency` of them in memory and in flight), then committed in one block list, so nothing is visible before the
 * last byte. Directory placeholders of accounts with a hierarchical namespace (metadata `hdi_isfolder=true`) are not
 * objects and are never listed. Every key and list prefix passes core's `checkObjectKey` first: the SDK resolves `.`
 * and `..` segments before sending, so a forged `<objectKey>/../../<other>` would otherwise reach other blobs and
 * containers.
 */
import type { BlockBlobUploadOptions, ContainerClient } from '@azure/storage-blob'
import {
  type ByteSource,
  type GetOptions,
  type IncompleteReport,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  XComError,
} from '@xcom/core'
import { checkRange, concatBytes, prefixedKey, prefixedListPrefix } from '@xcom/core/adapter'
import { buildServiceClient } from './client.ts'
import { BlobDeleter } from './delete.ts'
import { bodyOf, readBlob } from './download.ts'
import { codeOf, type ErrorMapper, errorMapper, httpStatus } from './errors.ts'
import { removeUncommittedBlobs } from './incomplete.ts'
import { listBlobPages } from './list.ts'
import { decodeMetadata, encodeMetadata } from './metadata.ts'
import { type AzureBlobObjectStoreOptions, type AzureSettings, resolveOptions } from './options.ts'
import { retryLogPolicy } from './retries.ts'
import { BlockReader, stageBlocks } from './upload.ts'

/**
 * An {@link ObjectStore} on Azure Blob Storage (block blobs), for `abfs://[conn@]container/prefix` URLs.
 *
 * @example
 * ```ts
 * const store = new AzureBlobObjectStore({ connectionString: process.env.AZURE_STORAGE_CONNECTION_STRING, container: 'xcom', prefix: 'prod' })
 * ```
 */
export class AzureBlobObjectStore implements ObjectStore {
  /** `<scheme>://[<connectionId>@]<container>[/<prefix>]`: never carries secrets. */
  readonly url: string
  /** Range reads and conditional creates (`If-None-Match: *`) are supported; 50,000 blocks of `blockSize` at most. */
  readonly capabilities: {
    rangeReads: boolean
    conditionalCreate: boolean
    maxObjectSize: number
    wholeBufferPut: boolean
  }
  /** The container client every call goes through. */
  readonly containerClient: ContainerClient
  readonly #settings: AzureSettings
  readonly #fail: ErrorMapper
  readonly #deleter: BlobDeleter

  /**
   * @throws XComError `E_CONFIG` when no container is named, the container name is invalid, the sizes are out of
   *   range, or there is neither a client nor credentials (messages never contain secrets).
   */
  constructor(options: AzureBlobObjectStoreOptions) {
    const settings = resolveOptions(options)
    this.#settings = settings
    this.url = settings.url
    this.#fail = errorMapper(settings.secrets)
    this.capabilities = {
      rangeReads: true,
      conditionalCreate: true,
      maxObjectSize: settings.maxObjectSize,
      // A buffer's blocks are views of it; a stream's chunks are copied together into each block.
      wholeBufferPut: true,
    }
    // A client passed in keeps its own pipeline: its retries are not logged (see the README).
    const client = options.client ?? buildServiceClient(options, this.url, retryLogPolicy(settings))
    this.containerClient =
      'getContainerClient' in client ? client.getContainerClient(settings.container) : client
    this.#deleter = new BlobDeleter({
      container: this.containerClient,
      blobName: (objectKey) => this.#blobName(objectKey),
      uri: (objectKey) => this.#uri(objectKey),
      fail: this.#fail,
      batch: settings.batchDelete,
      concurrency: settings.deleteConcurrency,
    })
  }

  /**
   * Uploads `body` as a block blob: in one request when it holds at most `blockSize` bytes, else staged as blocks of
   * `blockSize` (`concurrency` at once, each with its Content-MD5, each retried by the SDK) and committed together, so
   * nothing is visible until the whole body is uploaded. Memory stays about `blockSize * concurrency`.
   * @throws XComError `E_INVALID_KEY` for a key core's `checkObjectKey` refuses (before anything is sent);
   *   `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the blob exists; `E_TOO_LARGE` over
   *   `capabilities.maxObjectSize`; `E_PERMISSION_DENIED`, `E_NOT_FOUND` (missing container), `E_BACKEND`; the body's
   *   own error or the abort reason as is (nothing is committed then, and the body is closed).
   */
  async put(objectKey: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const blob = this.containerClient.getBlockBlobClient(this.#blobName(objectKey))
    const uri = this.#uri(objectKey)
    const { signal } = options
    const { blockSize, concurrency } = this.#settings
    const tooLarge = (size: number) => this.#tooLarge(uri, size)
    if (options.size !== undefined && options.size > this.capabilities.maxObjectSize)
      throw tooLarge(options.size)
    signal?.throwIfAborted()
    const uploadOptions: BlockBlobUploadOptions = {
      metadata: encodeMetadata(options.metadata),
      blobHTTPHeaders: options.contentType ? { blobContentType: options.contentType } : {},
      conditions: options.ifNoneMatch ? { ifNoneMatch: '*' } : {},
      abortSignal: signal,
      onProgress: options.onProgress && ((progress) => options.onProgress?.(progress.loadedBytes)),
    }
    const source = new BlockReader(body, signal)
    try {
      const first = (await source.next(blockSize)) ?? { parts: [new Uint8Array(0)], length: 0 }
      if (await source.done()) await blob.upload(concatBytes(first.parts), first.length, uploadOptions)
      else await stageBlocks(blob, first, source, uploadOptions, { blockSize, concurrency, tooLarge })
    } catch (error) {
      // Close the caller's source (its finally blocks run); without waiting when aborted, as it may be stuck reading.
      const closing = source.close()
      if (signal?.aborted) throw signal.reason
      await closing
      if (source.error !== undefined) throw source.error
      throw this.#fail(error, 'writing', uri)
    }
    return { size: source.size }
  }

  /**
   * Opens a blob for reading, streamed as it is consumed. The first `blockSize` bytes come from one request; the rest
   * is read as ranges of `blockSize`, up to `concurrency` of them ahead of the reader (memory stays about
   * `blockSize * concurrency`), each pinned to the blob's ETag so a blob replaced mid-read fails instead of mixing
   * versions, and each resuming where it stopped when its connection breaks (`maxDownloadRetries`). `size` is the
   * whole blob's size, also for a range.
   * @throws XComError `E_NOT_FOUND` naming the URI when the blob (or container) does not exist; `E_INVALID_KEY` for a
   *   key `checkObjectKey` refuses or a negative or reversed range; `E_PERMISSION_DENIED`; `E_BACKEND`. The body's
   *   stream errors with the same codes.
   */
  async get(objectKey: string, options: GetOptions = {}): Promise<ObjectBody> {
    const uri = this.#uri(objectKey)
    const blob = this.containerClient.getBlobClient(this.#blobName(objectKey))
    const range = checkRange(options.range, uri)
    const { blockSize, concurrency, maxDownloadRetries } = this.#settings
    try {
      return await readBlob(blob, {
        objectKey,
        range,
        blockSize,
        concurrency,
        maxRetries: maxDownloadRetries,
        signal: options.signal,
        fail: (error) => this.#fail(error, 'reading', uri),
      })
    } catch (error) {
      // 416: the range starts at or past the end (or the blob is empty): an empty read, like a range cut at the end.
      const info =
        XComError.is(error) && httpStatus(error.cause) === 416 ? await this.head(objectKey) : undefined
      if (info) return bodyOf(info, (async function* () {})())
      throw error
    }
  }

  /**
   * The blob's size, last modification and user metadata, or undefined when it (or its container) does not exist.
   * @throws XComError `E_INVALID_KEY` for a key `checkObjectKey` refuses; `E_PERMISSION_DENIED`, `E_BACKEND`.
   */
  async head(objectKey: string): Promise<ObjectInfo | undefined> {
    const blob = this.containerClient.getBlobClient(this.#blobName(objectKey))
    try {
      const properties = await blob.getProperties()
      return {
        objectKey,
        size: properties.contentLength ?? 0,
        lastModified: properties.lastModified ?? new Date(0),
        metadata: decodeMetadata(properties.metadata),
      }
    } catch (error) {
      if (codeOf(error) === 'E_NOT_FOUND') return undefined
      throw this.#fail(error, 'reading the properties of', this.#uri(objectKey))
    }
  }

  /**
   * Deletes blobs (with their snapshots) in blob batches of up to 256, or one at a time (`deleteConcurrency` at once)
   * where batches are refused. Missing blobs are not failures; each failure names its object key and carries a mapped
   * error. A key `checkObjectKey` refuses is a failure with its `E_INVALID_KEY` error; the other keys are still deleted.
   */
  async deleteMany(
    objectKeys: readonly string[],
  ): Promise<{ failed: { objectKey: string; error: XComError }[] }> {
    return this.#deleter.deleteMany(objectKeys)
  }

  /**
   * Every blob under `<prefix>/<prefix argument>`, a page of `pageSize` names at a time, each with its user metadata
   * (the listing asks for it, so `metadata` is never left empty for want of a `head`).
   * @throws XComError `E_INVALID_KEY` for a prefix with an empty, `.` or `..` segment (one trailing `/` is allowed);
   *   `E_NOT_FOUND` when the container does not exist; `E_PERMISSION_DENIED`; `E_BACKEND`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const own = this.#settings.prefix
    const strip = own ? own.length + 1 : 0
    const pages = listBlobPages(
      this.containerClient,
      { prefix: prefixedListPrefix(this.url, own, prefix), includeMetadata: true },
      this.#settings.pageSize,
      (error) => this.#fail(error, 'listing', this.#uri(prefix)),
    )
    for await (const page of pages) {
      for (const item of page) {
        if (item.metadata?.hdi_isfolder === 'true') continue
        yield {
          objectKey: item.name.slice(strip),
          size: item.properties.contentLength ?? 0,
          lastModified: item.properties.lastModified,
          metadata: decodeMetadata(item.metadata),
        }
      }
    }
  }

  /**
   * Removes the leftovers of staged uploads that were killed before their commit and started before `startedBefore`:
   * uncommitted blobs under the store's prefix (listed with `includeUncommitedBlobs`), each freed by committing an
   * empty block list with `If-None-Match: *` and deleting that empty blob. Committed blobs are never touched, also
   * those with a newer upload in progress; their uncommitted blocks stay until Azure discards them, a week after the
   * last block. `gc()` calls it.
   * @throws XComError when the listing fails: `E_NOT_FOUND` (missing container), `E_PERMISSION_DENIED`, `E_BACKEND`.
   *   A blob that cannot be removed is reported in `failed` (its URI), to retry at the next `gc()`.
   */
  async removeIncomplete(startedBefore: Date): Promise<IncompleteReport> {
    const { prefix, pageSize, deleteConcurrency } = this.#settings
    const strip = prefix ? prefix.length + 1 : 0
    return removeUncommittedBlobs(this.containerClient, {
      namePrefix: prefix ? `${prefix}/` : '',
      startedBefore,
      pageSize,
      concurrency: deleteConcurrency,
      storeUrl: this.url,
      uriOf: (name) => this.#uri(name.slice(strip)),
      fail: this.#fail,
    })
  }

  /** Nothing to release: the Azure SDK shares its HTTP agent across clients and a client has no close(). */
  async close(): Promise<void> {}

  /** @throws XComError `E_INVALID_KEY` for a key core's `checkObjectKey` refuses. */
  #blobName(objectKey: string): string {
    return prefixedKey(this.url, this.#settings.prefix, objectKey)
  }

  #uri(objectKey: string): string {
    return `${this.url}/${objectKey}`
  }

  #tooLarge(uri: string, size: number): XComError {
    return new XComError(
      'E_TOO_LARGE',
      `Not writing ${uri}: ${size} bytes exceed the ${this.capabilities.maxObjectSize} bytes a block blob holds with blocks of ${this.#settings.blockSize} bytes; raise blockSize.`,
      { uri },
    )
  }
}
