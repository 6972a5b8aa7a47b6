/*
 * AzureBlobObjectStore layout: one block blob per object in one container. The blob name is the store's prefix and the
 * key joined with '/' (`<prefix>/<key>`, or `<key>` without a prefix); keys are used as given, never re-encoded, and
 * the prefix is stripped again when listing. User metadata is stored as blob metadata, its names mapped to C#
 * identifiers (`xcom-dag-id` <-> `xcom_dag_id`, see metadata.ts). A body of at most `blockSize` bytes goes up in one
 * Put Blob request; a larger one is staged as blocks of `blockSize` bytes (each with its Content-MD5, at most
 * `concurrency` of them in memory and in flight), then committed in one block list, so nothing is visible before the
 * last byte. Directory placeholders of accounts with a hierarchical namespace (metadata `hdi_isfolder=true`) are not
 * objects and are never listed. Every key and list prefix passes core's `checkObjectKey` first: the SDK resolves `.`
 * and `..` segments before sending, so a forged `<key>/../../<other>` would otherwise reach other blobs and containers.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type {
  BlobDownloadResponseParsed,
  BlobServiceClient,
  BlockBlobClient,
  BlockBlobUploadOptions,
  ContainerClient,
  StorageRetryOptions,
} from '@azure/storage-blob'
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
import { checkRange, prefixedKey, prefixedListPrefix } from '@xcom/core/adapter'
import { buildServiceClient } from './client.ts'
import type { AzureCredentialOptions } from './connection.ts'
import { bodyOf, collectChunks, Prefetch } from './download.ts'
import { codeOf, httpStatus, toXComError } from './errors.ts'
import { removeUncommittedBlobs } from './incomplete.ts'
import { decodeMetadata, encodeMetadata } from './metadata.ts'
import { type Block, BlockReader, bodyOfBlock } from './upload.ts'

/** Most blocks one block blob can have. */
const MAX_BLOCKS = 50_000
/** Largest block the service accepts (4000 MiB). */
const MAX_BLOCK_SIZE = 4000 * 1024 * 1024
/** Most sub-requests one blob batch may hold. */
const BATCH_SIZE = 256
/** Container names: 3-63 of lowercase letters, digits and single hyphens, starting and ending alphanumeric. */
const CONTAINER_NAME = /^(?:\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/

/** Options of {@link AzureBlobObjectStore}: a ready client, or the credential options to build one. */
export interface AzureBlobObjectStoreOptions extends AzureCredentialOptions {
  /**
   * A ready client (built with any credential, e.g. from `@azure/identity`). A `ContainerClient` fixes the container.
   * The store never closes a client it was given.
   */
  client?: BlobServiceClient | ContainerClient
  /** The container. Optional only when `client` is a `ContainerClient`. */
  container?: string
  /** Prefix of every blob name, joined to keys with `/`. @default "" */
  prefix?: string
  /**
   * Bodies up to this size go up in one request; larger ones are staged as blocks of this size.
   * @default 16 MiB (with `concurrency` 4: about 64 MiB per transfer; measured fastest against azurite)
   */
  blockSize?: number
  /**
   * Blocks of one transfer in memory and in flight: blocks staged at once by an upload, ranges read ahead by a
   * download (memory per transfer is about `blockSize * concurrency`).
   * @default 4
   */
  concurrency?: number
  /** Blob names asked for per page when listing (the service caps it at 5000). @default 1000 */
  pageSize?: number
  /**
   * Delete with blob batch requests of up to 256 blobs. When the service refuses a batch (accounts with a
   * hierarchical namespace, azurite with SAS credentials), the store deletes one blob at a time instead.
   * @default true
   */
  batchDelete?: boolean
  /** Blobs deleted at once when deleting one at a time. @default 16 */
  deleteConcurrency?: number
  /** Retries of downloads whose stream breaks half way (each resumes where it stopped). @default 5 */
  maxDownloadRetries?: number
  /** The SDK's retry settings, for a client the store builds (not for a given `client`). @default the SDK's */
  retryOptions?: StorageRetryOptions
  /** The URL scheme shown in `url`. @default "abfs" */
  scheme?: string
  /** The connection id shown in `url` (`abfs://<connectionId>@container/prefix`). @default none */
  connectionId?: string
}

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
  readonly #prefix: string
  readonly #blockSize: number
  readonly #concurrency: number
  readonly #pageSize: number
  readonly #deleteConcurrency: number
  readonly #maxDownloadRetries: number
  readonly #secrets: string[]
  #batchDelete: boolean

  /**
   * @throws XComError `E_CONFIG` when no container is named, the container name is invalid, the sizes are out of
   *   range, or there is neither a client nor credentials (messages never contain secrets).
   */
  constructor(options: AzureBlobObjectStoreOptions) {
    const container = options?.container ?? containerOf(options?.client)
    const scheme = options?.scheme ?? 'abfs'
    this.#prefix = (options?.prefix ?? '').replace(/^\/+|\/+$/g, '')
    const where = `${scheme}://${options?.connectionId ? `${options.connectionId}@` : ''}${container ?? ''}`
    this.url = `${where}${this.#prefix ? `/${this.#prefix}` : ''}`
    if (!container) {
      throw new XComError(
        'E_CONFIG',
        `new AzureBlobObjectStore() needs a container: pass { container } or a ContainerClient.`,
      )
    }
    if (!CONTAINER_NAME.test(container)) {
      throw new XComError(
        'E_CONFIG',
        `Invalid Azure container name "${container}" for ${this.url}: use 3-63 lowercase letters, digits and single hyphens.`,
      )
    }
    const clientContainer = containerOf(options.client)
    if (clientContainer !== undefined && clientContainer !== container) {
      throw new XComError(
        'E_CONFIG',
        `The ContainerClient given for ${this.url} is for container "${clientContainer}", not "${container}": pass one or the other.`,
      )
    }
    this.#blockSize = sizeOption('blockSize', options.blockSize, 16 * 1024 * 1024, MAX_BLOCK_SIZE)
    this.#concurrency = sizeOption('concurrency', options.concurrency, 4, 64)
    this.#pageSize = sizeOption('pageSize', options.pageSize, 1000, 5000)
    this.#deleteConcurrency = sizeOption('deleteConcurrency', options.deleteConcurrency, 16, 256)
    this.#maxDownloadRetries = options.maxDownloadRetries ?? 5
    this.#batchDelete = options.batchDelete ?? true
    this.#secrets = [options.accountKey, options.sasToken, options.connectionString].filter(
      (secret): secret is string => typeof secret === 'string' && secret !== '',
    )
    this.capabilities = {
      rangeReads: true,
      conditionalCreate: true,
      maxObjectSize: this.#blockSize * MAX_BLOCKS,
      // A buffer's blocks are views of it; a stream's chunks are copied together into each block.
      wholeBufferPut: true,
    }
    const client = options.client ?? buildServiceClient(options, this.url)
    this.containerClient = 'getContainerClient' in client ? client.getContainerClient(container) : client
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
  async put(key: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const blob = this.containerClient.getBlockBlobClient(this.#blobName(key))
    const uri = this.#uri(key)
    const { signal } = options
    if (options.size !== undefined && options.size > this.capabilities.maxObjectSize)
      throw this.#tooLarge(uri, options.size)
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
      const first = (await source.next(this.#blockSize)) ?? { parts: [new Uint8Array(0)], length: 0 }
      if (await source.done()) await blob.upload(bodyOfBlock(first), first.length, uploadOptions)
      else await this.#stage(blob, first, source, uploadOptions, uri)
    } catch (error) {
      // Close the caller's source (its finally blocks run); without waiting when aborted, as it may be stuck reading.
      const closing = source.close()
      if (signal?.aborted) throw signal.reason
      await closing
      if (source.error !== undefined) throw source.error
      throw toXComError(error, { action: 'writing', uri, secrets: this.#secrets })
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
  async get(key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const uri = this.#uri(key)
    const blob = this.containerClient.getBlobClient(this.#blobName(key))
    const { offset, count } = rangeOf(options.range, uri)
    const { signal } = options
    const download = async (
      start: number,
      length: number,
      etag?: string,
    ): Promise<BlobDownloadResponseParsed> => {
      try {
        return await blob.download(start, length, {
          abortSignal: signal,
          maxRetryRequests: this.#maxDownloadRetries,
          conditions: etag ? { ifMatch: etag } : {},
        })
      } catch (error) {
        if (signal?.aborted) throw signal.reason
        throw toXComError(error, { action: 'reading', uri, secrets: this.#secrets })
      }
    }
    let first: BlobDownloadResponseParsed
    try {
      first = await download(offset, Math.min(count ?? this.#blockSize, this.#blockSize))
    } catch (error) {
      // 416: the range starts at or past the end (or the blob is empty): an empty read, like a range cut at the end.
      const info = httpStatus((error as XComError).cause) === 416 ? await this.head(key) : undefined
      if (info) return bodyOf(info, (async function* () {})())
      throw error
    }
    const size = Number(/\/(\d+)$/.exec(first.contentRange ?? '')?.[1] ?? first.contentLength ?? 0)
    const end = count === undefined ? size : Math.min(size, offset + count)
    const ranges: [number, number][] = []
    for (let start = offset + (first.contentLength ?? 0); start < end; start += this.#blockSize) {
      ranges.push([start, Math.min(this.#blockSize, end - start)])
    }
    const info: ObjectInfo = {
      key,
      size,
      lastModified: first.lastModified ?? new Date(0),
      metadata: decodeMetadata(first.metadata),
    }
    const secrets = this.#secrets
    const fetchRange = async ([start, length]: [number, number]) => {
      const response = await download(start, length, first.etag)
      try {
        return await collectChunks(response.readableStreamBody)
      } catch (error) {
        throw toXComError(error, { action: 'reading', uri, secrets })
      }
    }
    const ahead = new Prefetch(ranges, fetchRange, this.#concurrency)
    const stream = first.readableStreamBody as Readable | undefined
    async function* chunks(): AsyncGenerator<Uint8Array> {
      try {
        ahead.start()
        try {
          for await (const chunk of stream ?? []) yield chunk as Uint8Array
        } catch (error) {
          throw toXComError(error, { action: 'reading', uri, secrets })
        }
        for (let block = await ahead.next(); block; block = await ahead.next()) yield* block
      } finally {
        ahead.stop()
        stream?.destroy()
      }
    }
    return bodyOf(info, chunks())
  }

  /**
   * The blob's size, last modification and user metadata, or undefined when it (or its container) does not exist.
   * @throws XComError `E_INVALID_KEY` for a key `checkObjectKey` refuses; `E_PERMISSION_DENIED`, `E_BACKEND`.
   */
  async head(key: string): Promise<ObjectInfo | undefined> {
    const blob = this.containerClient.getBlobClient(this.#blobName(key))
    try {
      const properties = await blob.getProperties()
      return {
        key,
        size: properties.contentLength ?? 0,
        lastModified: properties.lastModified ?? new Date(0),
        metadata: decodeMetadata(properties.metadata),
      }
    } catch (error) {
      if (codeOf(error) === 'E_NOT_FOUND') return undefined
      throw toXComError(error, {
        action: 'reading the properties of',
        uri: this.#uri(key),
        secrets: this.#secrets,
      })
    }
  }

  /**
   * Deletes blobs (with their snapshots) in blob batches of up to 256, or one at a time (`deleteConcurrency` at once)
   * where batches are refused. Missing blobs are not failures; each failure names its key and carries a mapped error.
   * A key `checkObjectKey` refuses is a failure with its `E_INVALID_KEY` error; the other keys are still deleted.
   */
  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: XComError }[] }> {
    const failed: { key: string; error: XComError }[] = []
    const valid: string[] = []
    for (const key of keys) {
      try {
        this.#blobName(key)
        valid.push(key)
      } catch (error) {
        failed.push({ key, error: error as XComError })
      }
    }
    for (let start = 0; start < valid.length; start += BATCH_SIZE) {
      const slice = valid.slice(start, start + BATCH_SIZE)
      const batchFailures = this.#batchDelete && slice.length > 1 ? await this.#deleteBatch(slice) : undefined
      failed.push(...(batchFailures ?? (await this.#deleteEach(slice))))
    }
    return { failed }
  }

  /**
   * Every blob under `<prefix>/<prefix argument>`, a page of `pageSize` names at a time, each with its user metadata
   * (the listing asks for it, so `metadata` is never left empty for want of a `head`).
   * @throws XComError `E_INVALID_KEY` for a prefix with an empty, `.` or `..` segment (one trailing `/` is allowed);
   *   `E_NOT_FOUND` when the container does not exist; `E_PERMISSION_DENIED`; `E_BACKEND`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const strip = this.#prefix ? this.#prefix.length + 1 : 0
    const pages = this.containerClient
      .listBlobsFlat({ prefix: prefixedListPrefix(this.url, this.#prefix, prefix), includeMetadata: true })
      .byPage({ maxPageSize: this.#pageSize })
    const iterator = pages[Symbol.asyncIterator]()
    for (;;) {
      let page: Awaited<ReturnType<typeof iterator.next>>
      try {
        page = await iterator.next()
      } catch (error) {
        throw toXComError(error, { action: 'listing', uri: this.#uri(prefix), secrets: this.#secrets })
      }
      if (page.done) return
      for (const item of page.value.segment.blobItems) {
        if (item.metadata?.hdi_isfolder === 'true') continue
        yield {
          key: item.name.slice(strip),
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
    const strip = this.#prefix ? this.#prefix.length + 1 : 0
    return removeUncommittedBlobs(this.containerClient, {
      namePrefix: this.#prefix ? `${this.#prefix}/` : '',
      startedBefore,
      pageSize: this.#pageSize,
      concurrency: this.#deleteConcurrency,
      storeUrl: this.url,
      uriOf: (name) => this.#uri(name.slice(strip)),
      secrets: this.#secrets,
    })
  }

  /** Nothing to release: the Azure SDK shares its HTTP agent across clients and a client has no close(). */
  async close(): Promise<void> {}

  /** @throws XComError `E_INVALID_KEY` for a key core's `checkObjectKey` refuses. */
  #blobName(key: string): string {
    return prefixedKey(this.url, this.#prefix, key)
  }

  #uri(key: string): string {
    return `${this.url}/${key}`
  }

  /**
   * Stages `first` and the rest of `source` as blocks, `concurrency` at once, then commits them. The first failure
   * stops reading; blocks in flight are awaited before it is thrown, and nothing is committed.
   */
  async #stage(
    blob: BlockBlobClient,
    first: Block,
    source: BlockReader,
    options: BlockBlobUploadOptions,
    uri: string,
  ) {
    const prefix = randomUUID()
    const ids: string[] = []
    const inFlight = new Set<Promise<void>>()
    let failure: { error: unknown } | undefined
    let sent = 0
    try {
      for (
        let block: Block | undefined = first;
        block && !failure;
        block = await source.next(this.#blockSize)
      ) {
        if (ids.length === MAX_BLOCKS) throw this.#tooLarge(uri, source.size)
        const id = Buffer.from(`${prefix}-${String(ids.length).padStart(6, '0')}`).toString('base64')
        ids.push(id)
        const { length } = block
        const body = bodyOfBlock(block)
        const task: Promise<void> = blob
          .stageBlock(id, body, length, {
            abortSignal: options.abortSignal,
            transactionalContentMD5: createHash('md5').update(body).digest(),
          })
          .then(
            () => {
              sent += length
              options.onProgress?.({ loadedBytes: sent })
            },
            (error: unknown) => {
              failure ??= { error }
            },
          )
          .finally(() => inFlight.delete(task))
        inFlight.add(task)
        if (inFlight.size >= this.#concurrency) await Promise.race(inFlight)
      }
    } finally {
      await Promise.all(inFlight)
    }
    if (failure) throw failure.error
    const { metadata, blobHTTPHeaders, conditions, abortSignal } = options
    await blob.commitBlockList(ids, { metadata, blobHTTPHeaders, conditions, abortSignal })
  }

  #tooLarge(uri: string, size: number): XComError {
    return new XComError(
      'E_TOO_LARGE',
      `Not writing ${uri}: ${size} bytes exceed the ${this.capabilities.maxObjectSize} bytes a block blob holds with blocks of ${this.#blockSize} bytes; raise blockSize.`,
      { uri },
    )
  }

  /** One blob batch; undefined when the service refuses batches (the caller deletes one at a time, from now on). */
  async #deleteBatch(keys: string[]): Promise<{ key: string; error: XComError }[] | undefined> {
    let response: Awaited<ReturnType<ReturnType<ContainerClient['getBlobBatchClient']>['deleteBlobs']>>
    try {
      const clients = keys.map((key) => this.containerClient.getBlobClient(this.#blobName(key)))
      response = await this.containerClient
        .getBlobBatchClient()
        .deleteBlobs(clients, { deleteSnapshots: 'include' })
    } catch (error) {
      const status = httpStatus(error)
      if (status === undefined || codeOf(error) === 'E_PERMISSION_DENIED')
        return keys.map((key) => this.#deleteFailure(key, error))
      this.#batchDelete = false
      return undefined
    }
    const failed: { key: string; error: XComError }[] = []
    keys.forEach((key, index) => {
      const sub = response.subResponses[index]
      const status = sub?.status
      if (status !== undefined && (status < 300 || status === 404)) return
      failed.push(
        this.#deleteFailure(key, {
          statusCode: status,
          code: sub?.errorCode,
          message: sub ? `${sub.status} ${sub.statusMessage}` : 'no sub-response in the batch response',
        }),
      )
    })
    return failed
  }

  async #deleteEach(keys: string[]): Promise<{ key: string; error: XComError }[]> {
    const failed: { key: string; error: XComError }[] = []
    let next = 0
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++] as string
        try {
          await this.containerClient.getBlobClient(this.#blobName(key)).delete({ deleteSnapshots: 'include' })
        } catch (error) {
          if (codeOf(error) !== 'E_NOT_FOUND') failed.push(this.#deleteFailure(key, error))
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#deleteConcurrency, keys.length) }, worker))
    return failed
  }

  #deleteFailure(key: string, error: unknown): { key: string; error: XComError } {
    return {
      key,
      error: toXComError(error, { action: 'deleting', uri: this.#uri(key), secrets: this.#secrets }),
    }
  }
}

/** The container of a `ContainerClient`, undefined for a service client or none. */
function containerOf(client: BlobServiceClient | ContainerClient | undefined): string | undefined {
  return client && !('getContainerClient' in client) ? client.containerName : undefined
}

function sizeOption(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new XComError(
      'E_CONFIG',
      `AzureBlobObjectStore option ${name} must be an integer from 1 to ${max}, not ${value}.`,
    )
  }
  return value
}

/** `offset`/`count` of the SDK for an inclusive range. @throws XComError `E_INVALID_KEY` for a bad range. */
function rangeOf(range: GetOptions['range'], uri: string): { offset: number; count: number | undefined } {
  const checked = checkRange(range, uri)
  if (checked === undefined) return { offset: 0, count: undefined }
  const { start, end } = checked
  return { offset: start, count: end === undefined ? undefined : end - start + 1 }
}
