/*
 * GcsObjectStore layout: one GCS object per key, named `<prefix>/<key>` in the bucket (just `<key>` without a prefix).
 * Keys come from the backend already encoded; they are joined to the prefix with '/' and never re-encoded (the SDK
 * percent-encodes names on the wire). The XCom metadata is the object's custom metadata (`metadata.metadata`, free-form
 * keys and values, stored as given); the content type is the caller's or `application/octet-stream`, and no
 * `contentEncoding` is ever set, so GCS serves the bytes exactly as written. `list` strips the prefix again.
 *
 * Uploads: bodies up to `resumableThreshold` bytes (streams are read that far to find out) go in one multipart
 * request (`resumable: false`); larger ones stream through a resumable upload in `chunkSize` PUTs answered by 308s.
 * The SDK checks the crc32c of every upload and of every whole-object download (`validation`).
 *
 * Every key, and every non-empty list prefix, passes core's `checkObjectKey` before any request: a forged
 * `<key>/../../<other>` is refused with `E_INVALID_KEY` instead of trusting every server and proxy not to resolve it.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ReadableStream as NodeReadableStream } from 'node:stream/web'
import {
  type Bucket,
  type FileMetadata,
  type GetFilesResponse,
  IdempotencyStrategy,
  Storage,
  type StorageOptions,
} from '@google-cloud/storage'
import type {
  ByteSource,
  Bytes,
  GetOptions,
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  XComError as XComErrorType,
} from '@xcom/core'
import { XComError } from '@xcom/core'
import { byteChunks, checkRange, prefixedKey, prefixedListPrefix } from '@xcom/core/adapter'
import { authOptionsOf } from './auth.ts'
import type { GcsConnectionOptions } from './connection.ts'
import { fastCrc32cValidator } from './crc32c.ts'
import { toXComError } from './errors.ts'

type RetryOptions = NonNullable<StorageOptions['retryOptions']>

/** Options of {@link GcsObjectStore}. The client options apply only when no ready `storage` is given. */
export interface GcsObjectStoreOptions extends GcsConnectionOptions {
  /** The bucket holding the objects. */
  bucket: string
  /** A path inside the bucket that every key is placed under (slashes at either end are ignored). @default "" */
  prefix?: string
  /**
   * A ready client. The store then uses it as it is (its credentials, endpoint and retry settings) and `close()` leaves
   * it alone. Note: with the SDK's default `idempotencyStrategy` (RetryConditional) that client retries uploads and
   * deletes only with a precondition.
   * @default a client built from the other options
   */
  storage?: Storage
  /** The connection id shown in {@link GcsObjectStore.url} (`gs://<id>@bucket/prefix`). @default none */
  connectionId?: string
  /** The scheme shown in {@link GcsObjectStore.url}. @default "gs" */
  scheme?: 'gs' | 'gcs'
  /**
   * Retry settings of the client built by the store, merged over the store's default of
   * `{ idempotencyStrategy: IdempotencyStrategy.RetryAlways }` (and `maxRetries` from the options).
   * RetryAlways is safe here because every write the store makes is idempotent (same bytes to the same key, deletes
   * that ignore a missing object), and it avoids the SDK switching retries off on the whole client
   * (see the README). @default `{ idempotencyStrategy: RetryAlways }`
   */
  retryOptions?: RetryOptions
  /**
   * Any other `StorageOptions` for the client built by the store (timeouts, user agent, universe domain...). Its
   * `crc32cGenerator` defaults to the store's faster, equivalent CRC-32C (`fastCrc32cValidator`). @default {}
   */
  storageOptions?: StorageOptions
  /**
   * Size of each request of a resumable upload, in bytes: the SDK holds one chunk in memory (memory per upload is
   * bounded by it) and GCS answers each but the last with 308. A chunk that fails transiently is sent again from that
   * memory, so large uploads survive a 503 or a dropped connection. `0` streams the whole body in one PUT instead,
   * which the SDK cannot resume after a failure mid-way.
   * @default 16777216 (16 MiB)
   */
  chunkSize?: number
  /**
   * Bodies of at most this many bytes go in one multipart request instead of a resumable upload (saving the round
   * trip that starts a session); a stream of unknown size is read (into memory) up to this many bytes to find out.
   * That request is retried like any other, except on a ready `storage` whose strategy is RetryConditional when the
   * write is not create-only: the store then sends it without retries rather than through `save()`, which would
   * switch retries off for the whole client (an SDK state leak).
   * @default 8388608 (8 MiB)
   */
  resumableThreshold?: number
  /**
   * The checksum the SDK verifies on uploads and on whole-object downloads (ranged reads are not verified by GCS).
   * @default "crc32c"
   */
  validation?: 'crc32c' | 'md5' | false
  /** How many deletes `deleteMany` runs at once (GCS has no batch delete in its JSON API client). @default 16 */
  deleteConcurrency?: number
  /** How many objects `list` asks for per page. @default 1000 */
  listPageSize?: number
}

const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024
const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
const SLICE = 1024 * 1024
/** GCS's largest object: 5 TiB. */
const MAX_OBJECT_SIZE = 5 * 1024 ** 4

/**
 * An {@link ObjectStore} on Google Cloud Storage through `@google-cloud/storage`: streamed resumable uploads,
 * validated and ranged downloads, bounded-concurrency deletes, paginated listing, create-only writes
 * (`ifGenerationMatch=0`). Every SDK error becomes an {@link XComError} (see `toXComError`).
 *
 * It has no `removeIncomplete`: the only leftovers of interrupted writes are resumable upload sessions, which the JSON
 * API cannot list (only their creator holds the session URI). GCS drops them, with their bytes, a week after they
 * start; nothing else is left, as an upload commits nothing before its last byte.
 *
 * @example
 * ```ts
 * const store = new GcsObjectStore({ bucket: 'my-bucket', prefix: 'xcom', keyFilename: '/keys/sa.json' })
 * ```
 */
export class GcsObjectStore implements ObjectStore {
  /** `gs://[<connection id>@]<bucket>[/<prefix>]`, without secrets. */
  readonly url: string
  /** Range reads and create-only writes are supported; objects may be up to 5 TiB. */
  readonly capabilities = {
    rangeReads: true,
    conditionalCreate: true,
    maxObjectSize: MAX_OBJECT_SIZE,
  } as const
  /** The SDK client in use. */
  readonly storage: Storage
  /** The bucket name. */
  readonly bucket: string
  /** The normalized prefix (no leading or trailing `/`), or `""`. */
  readonly prefix: string
  readonly #bucket: Bucket
  readonly #chunkSize: number | undefined
  readonly #resumableThreshold: number
  readonly #validation: 'crc32c' | 'md5' | false
  readonly #deleteConcurrency: number
  readonly #listPageSize: number

  /**
   * @throws XComError `E_CONFIG` when `bucket` is missing, a numeric option is out of range, or the key file
   * (`keyFilename`) cannot be read or is not JSON (a service account key file is read here, once).
   */
  constructor(options: GcsObjectStoreOptions) {
    if (typeof options?.bucket !== 'string' || options.bucket.trim() === '') {
      throw new XComError(
        'E_CONFIG',
        'new GcsObjectStore({ bucket }) needs the name of a bucket, e.g. { bucket: "my-bucket" }.',
      )
    }
    this.bucket = options.bucket
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '')
    const user = options.connectionId ? `${options.connectionId}@` : ''
    this.url = `${options.scheme ?? 'gs'}://${user}${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`
    const chunkSize = positive(options.chunkSize, 'chunkSize', this.url, true) ?? DEFAULT_CHUNK_SIZE
    this.#chunkSize = chunkSize === 0 ? undefined : chunkSize
    this.#resumableThreshold =
      positive(options.resumableThreshold, 'resumableThreshold', this.url, true) ??
      DEFAULT_RESUMABLE_THRESHOLD
    this.#validation = options.validation ?? 'crc32c'
    this.#deleteConcurrency = positive(options.deleteConcurrency, 'deleteConcurrency', this.url) ?? 16
    this.#listPageSize = positive(options.listPageSize, 'listPageSize', this.url) ?? 1000
    this.storage = options.storage ?? new Storage(storageOptionsOf(options, this.url))
    this.#bucket = this.storage.bucket(this.bucket)
  }

  /**
   * The full object name of `key` in the bucket.
   * @throws XComError `E_INVALID_KEY` for a key core's `checkObjectKey` refuses (an empty, `.` or `..` segment, a
   *   backslash or a control character).
   */
  objectName(key: string): string {
    return prefixedKey(this.url, this.prefix, key)
  }

  /** The URI of `key`, for messages and references. */
  uriOf(key: string): string {
    return `${this.url}/${key}`
  }

  /**
   * Uploads `body` to `key` with its metadata and content type: in one request when it is at most
   * `resumableThreshold` bytes, else streamed through a resumable upload. Create-only when `ifNoneMatch` is set.
   * @throws XComError `E_INVALID_KEY` for a key `checkObjectKey` refuses (nothing is sent);
   * `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the object exists; `E_PERMISSION_DENIED`,
   * `E_NOT_FOUND` (no such bucket), `E_CORRUPT` (the upload's crc32c did not match: GCS kept nothing), `E_BACKEND`
   * otherwise; the abort reason when `signal` aborts. A failed upload leaves no object.
   */
  async put(key: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const name = this.objectName(key)
    const uri = this.uriOf(key)
    const { signal } = options
    signal?.throwIfAborted()
    const file = this.#bucket.file(name)
    const metadata = {
      contentType: options.contentType ?? 'application/octet-stream',
      metadata: { ...options.metadata },
    }
    const preconditionOpts = options.ifNoneMatch ? { ifGenerationMatch: 0 } : undefined
    const onProgress =
      options.onProgress &&
      ((event: { bytesWritten?: number }) => options.onProgress?.(event.bytesWritten ?? 0))
    const source = new Source(body)
    try {
      // Small bodies (and empty ones, which the SDK's chunked mode cannot send) go in one request; a stream of
      // unknown size is read up to the threshold to find out which it is.
      const whole =
        body instanceof Uint8Array
          ? body.byteLength <= this.#resumableThreshold
            ? body
            : undefined
          : options.size !== undefined && options.size > this.#resumableThreshold
            ? undefined
            : await source.head(this.#resumableThreshold, signal)
      if (whole !== undefined) {
        const single = {
          resumable: false,
          metadata,
          validation: this.#validation,
          ...(preconditionOpts ? { preconditionOpts } : {}),
        }
        if (preconditionOpts || this.#retriesUnconditionally()) {
          // save() retries the request; without a precondition it would switch retries off for the whole client
          // when its strategy is RetryConditional, hence the condition above.
          await file.save(whole, { ...single, ...(onProgress ? { onUploadProgress: onProgress } : {}) })
        } else {
          const upload = file.createWriteStream(single)
          if (onProgress) upload.on('progress', onProgress)
          await pipeline(
            Readable.from([whole], { objectMode: false }),
            upload,
            ...(signal ? [{ signal }] : []),
          )
        }
        return { size: sizeOf(file.metadata, whole.byteLength) }
      }
      const upload = file.createWriteStream({
        resumable: true,
        metadata,
        validation: this.#validation,
        ...(this.#chunkSize === undefined ? {} : { chunkSize: this.#chunkSize }),
        ...(preconditionOpts ? { preconditionOpts } : {}),
      })
      if (onProgress) upload.on('progress', onProgress)
      await pipeline(
        Readable.from(source.rest(), { objectMode: false }),
        upload,
        ...(signal ? [{ signal }] : []),
      )
      return { size: sizeOf(file.metadata, source.bytesRead) }
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error
      // The body's own failure is the caller's to see as it is.
      if (source.failure !== undefined && error === source.failure) throw error
      throw toXComError(error, { action: 'writing', uri })
    }
  }

  /**
   * Opens `key` for reading (the whole object, or `range`, end inclusive). The object's info is read first and the
   * download is pinned to that generation, so a concurrent overwrite cannot mix two versions. Whole-object downloads
   * are checked against the object's crc32c.
   * @throws XComError `E_NOT_FOUND` naming the URI when the object does not exist (also from the stream, when it is
   * deleted before being read); `E_CORRUPT` from the stream when the bytes do not match their checksum;
   * `E_INVALID_KEY` for a key `checkObjectKey` refuses or a negative or reversed range; `E_PERMISSION_DENIED` /
   * `E_BACKEND` otherwise.
   */
  async get(key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const name = this.objectName(key)
    const uri = this.uriOf(key)
    options.signal?.throwIfAborted()
    const metadata = await this.#metadata(name, uri)
    if (metadata === undefined) {
      throw new XComError('E_NOT_FOUND', `No object at ${uri}: it was never written or has been deleted.`, {
        uri,
      })
    }
    const info = this.#infoOf(key, metadata)
    const span = spanOf(options.range, info.size, uri)
    const generation = metadata.generation
    const file = this.#bucket.file(name, generation === undefined ? {} : { generation: String(generation) })
    const open = (): AsyncIterable<Bytes> => {
      if (span.empty) return (async function* () {})()
      // The SDK refuses validation on ranges: GCS holds checksums of whole objects only.
      const download = file.createReadStream(
        span.start === undefined
          ? { validation: this.#validation }
          : { validation: false, start: span.start, end: span.end },
      )
      if (options.signal) Readable.addAbortSignal(options.signal, download)
      return mapErrors(download, uri, options.signal)
    }
    return {
      ...info,
      stream: () => NodeReadableStream.from(open()) as unknown as ReadableStream<Bytes>,
      bytes: async () => collect(open()),
    }
  }

  /**
   * The object's size, update time and custom metadata, or `undefined` when it does not exist.
   * @throws XComError `E_INVALID_KEY` for a key `checkObjectKey` refuses; `E_PERMISSION_DENIED` / `E_BACKEND` for
   *   other failures.
   */
  async head(key: string): Promise<ObjectInfo | undefined> {
    const metadata = await this.#metadata(this.objectName(key), this.uriOf(key))
    return metadata && this.#infoOf(key, metadata)
  }

  /**
   * Deletes `keys`, `deleteConcurrency` at a time. Missing objects are not failures; every other failure is reported
   * per key (never thrown), so one refused delete does not hide the others. A key `checkObjectKey` refuses is a
   * failure with its `E_INVALID_KEY` error, and is never sent.
   */
  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: XComErrorType }[] }> {
    const failed: { key: string; error: XComErrorType }[] = []
    const named: [key: string, name: string][] = []
    for (const key of keys) {
      try {
        named.push([key, this.objectName(key)])
      } catch (error) {
        failed.push({ key, error: error as XComErrorType })
      }
    }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < named.length) {
        const [key, name] = named[next++] as [string, string]
        try {
          await this.#bucket.file(name).delete({ ignoreNotFound: true })
        } catch (error) {
          failed.push({ key, error: toXComError(error, { action: 'deleting', uri: this.uriOf(key) }) })
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#deleteConcurrency, named.length) }, worker))
    return { failed }
  }

  /**
   * Every object whose key starts with `prefix`, `listPageSize` per request, following GCS page tokens. Each comes with
   * its custom metadata: GCS listings carry it, so `metadata` is never left empty for want of a `head`.
   * @throws XComError `E_INVALID_KEY` for a prefix with an empty, `.` or `..` segment (one trailing `/` is allowed);
   *   `E_NOT_FOUND` (no such bucket), `E_PERMISSION_DENIED`, `E_BACKEND`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const full = prefixedListPrefix(this.url, this.prefix, prefix)
    let pageToken: string | undefined
    do {
      let files: GetFilesResponse[0]
      let nextQuery: { pageToken?: string } | null | undefined
      try {
        ;[files, nextQuery] = (await this.#bucket.getFiles({
          prefix: full,
          autoPaginate: false,
          maxResults: this.#listPageSize,
          ...(pageToken === undefined ? {} : { pageToken }),
        })) as [typeof files, typeof nextQuery, unknown]
      } catch (error) {
        throw toXComError(error, { action: 'listing', uri: `${this.url}/${prefix}` })
      }
      for (const file of files) {
        const key = this.prefix ? file.name.slice(this.prefix.length + 1) : file.name
        yield this.#infoOf(key, file.metadata)
      }
      pageToken = nextQuery?.pageToken
    } while (pageToken)
  }

  /**
   * Nothing to release: `@google-cloud/storage` has no close, and its keep-alive sockets are released by Node's agent
   * when idle. A client passed as `storage` is never touched.
   */
  async close(): Promise<void> {}

  /** Whether the client retries writes without a precondition (its idempotency strategy is RetryAlways). */
  #retriesUnconditionally(): boolean {
    return this.storage.retryOptions.idempotencyStrategy === IdempotencyStrategy.RetryAlways
  }

  async #metadata(name: string, uri: string): Promise<FileMetadata | undefined> {
    try {
      const [metadata] = await this.#bucket.file(name).getMetadata()
      return metadata
    } catch (error) {
      const mapped = toXComError(error, { action: 'reading', uri })
      if (mapped.code === 'E_NOT_FOUND' && !/bucket does not exist/.test(mapped.message)) return undefined
      throw mapped
    }
  }

  #infoOf(key: string, metadata: FileMetadata): ObjectInfo {
    const custom: Record<string, string> = {}
    for (const [name, value] of Object.entries(metadata.metadata ?? {})) {
      if (value !== null && value !== undefined) custom[name] = String(value)
    }
    const stamp = metadata.updated ?? metadata.timeCreated
    return {
      key,
      size: Number(metadata.size ?? 0),
      lastModified: stamp ? new Date(stamp) : new Date(0),
      metadata: custom,
    }
  }
}

/** The `StorageOptions` of a client built from store options. */
function storageOptionsOf(options: GcsObjectStoreOptions, url: string): StorageOptions {
  const base = options.storageOptions ?? {}
  return {
    ...base,
    ...authOptionsOf(options, url),
    crc32cGenerator: base.crc32cGenerator ?? fastCrc32cValidator,
    ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
    retryOptions: {
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      ...base.retryOptions,
      ...options.retryOptions,
      ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
    },
  }
}

function positive(
  value: number | undefined,
  name: string,
  url: string,
  allowZero = false,
): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new XComError(
      'E_CONFIG',
      `GcsObjectStore ${url}: the option ${name} must be a whole number ${allowZero ? '>= 0' : '>= 1'}.`,
    )
  }
  return value
}

/**
 * An upload body read as chunks: its first bytes can be taken to decide how to send it (`head`), then everything
 * (those first bytes included) is streamed by `rest`. Big buffers are cut into 1 MiB views (no copy). A failure of
 * the body itself is kept in `failure`, to tell it apart from the SDK's.
 */
class Source {
  readonly #iterator: AsyncIterator<Bytes>
  readonly #buffered: Bytes[] = []
  /** Bytes taken from the body so far. */
  bytesRead = 0
  /** What the body threw, if it failed. */
  failure: unknown

  constructor(body: ByteSource) {
    this.#iterator = chunksOf(body)[Symbol.asyncIterator]()
  }

  async #next(): Promise<IteratorResult<Bytes>> {
    try {
      const result = await this.#iterator.next()
      if (!result.done) this.bytesRead += result.value.byteLength
      return result
    } catch (error) {
      this.failure = error
      throw error
    }
  }

  /** The whole body when it ends within `limit` bytes; otherwise undefined (what was read stays for `rest`). */
  async head(limit: number, signal: AbortSignal | undefined): Promise<Bytes | undefined> {
    while (this.bytesRead <= limit) {
      signal?.throwIfAborted()
      const result = await this.#next()
      if (result.done) return concat(this.#buffered.splice(0))
      this.#buffered.push(result.value)
    }
    return undefined
  }

  /** Every remaining chunk, those read by `head` first. */
  async *rest(): AsyncGenerator<Bytes> {
    yield* this.#buffered.splice(0)
    for (;;) {
      const result = await this.#next()
      if (result.done) return
      yield result.value
    }
  }
}

/** The body's chunks, a Uint8Array cut into `SLICE`-byte views (no copy). */
async function* chunksOf(body: ByteSource): AsyncGenerator<Bytes> {
  if (!(body instanceof Uint8Array)) {
    yield* byteChunks(body)
    return
  }
  for (let offset = 0; offset < body.byteLength; offset += SLICE) yield body.subarray(offset, offset + SLICE)
}

function concat(chunks: readonly Bytes[]): Bytes {
  if (chunks.length === 1) return chunks[0] as Bytes
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

async function collect(source: AsyncIterable<Bytes>): Promise<Bytes> {
  const chunks: Bytes[] = []
  for await (const chunk of source) chunks.push(chunk)
  return plain(concat(chunks))
}

/** The size GCS reports for an upload (a number after resumable uploads, a string after multipart), else `sent`. */
function sizeOf(metadata: FileMetadata | undefined, sent: number): number {
  const stored = Number(metadata?.size)
  return Number.isFinite(stored) ? stored : sent
}

/** A plain Uint8Array view of a Buffer (no copy): callers compare and serialize bytes as Uint8Array. */
function plain(bytes: Bytes): Bytes {
  return Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes
}

/** The download's chunks with its errors mapped to XComErrors (and an abort passed through as the abort reason). */
async function* mapErrors(
  download: Readable,
  uri: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<Bytes> {
  try {
    for await (const chunk of download) yield plain(chunk as Bytes)
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error
    throw toXComError(error, { action: 'reading', uri })
  } finally {
    download.destroy()
  }
}

/** Which bytes of an object of `size` bytes a range selects, in the SDK's terms (end inclusive). */
function spanOf(
  range: GetOptions['range'],
  size: number,
  uri: string,
): { start?: number; end?: number; empty: boolean } {
  const checked = checkRange(range, uri)
  if (checked === undefined) return { empty: false }
  const { start, end } = checked
  // GCS answers 416 for a range that starts at or past the end; the store returns no bytes instead.
  if (start >= size) return { empty: true }
  return { start, end: Math.min(end ?? size - 1, size - 1), empty: false }
}
