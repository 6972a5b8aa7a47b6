/*
 * GcsObjectStore layout: one GCS object per object key, named `<prefix>/<objectKey>` in the bucket (just `<objectKey>`
 * without a prefix). Object keys come from the backend already encoded; they are joined to the prefix with '/' and
 * never re-encoded (the SDK percent-encodes names on the wire). The XCom metadata is the object's custom metadata
 * (`metadata.metadata`, free-form keys and values, stored as given); the content type is the caller's or
 * `application/octet-stream`, and no `contentEncoding` is ever set, so GCS serves the bytes exactly as written. `list`
 * strips the prefix again.
 *
 * Uploads (upload.ts): bodies up to `resumableThreshold` bytes (streams are read that far to find out) go in one
 * multipart request (`resumable: false`); larger ones stream through a resumable upload in `chunkSize` PUTs answered
 * by 308s. The SDK checks the crc32c of every upload and of every whole-object download (`validation`).
 *
 * Every object key, and every non-empty list prefix, passes core's `checkObjectKey` before any request: a forged
 * `<key>/../../<other>` is refused with `E_INVALID_KEY` instead of trusting every server and proxy not to resolve it.
 */
import {
  type Bucket,
  type FileMetadata,
  type GetFilesResponse,
  IdempotencyStrategy,
  type Storage,
  type StorageOptions,
} from '@google-cloud/storage'
import {
  type ByteSource,
  type GetOptions,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  XComError,
} from '@xcom/core'
import { prefixedKey, prefixedListPrefix } from '@xcom/core/adapter'
import { buildStorage } from './client.ts'
import type { GcsConnectionOptions } from './connection.ts'
import { bodyOf, spanOf } from './download.ts'
import { isMissingObject, toXComError } from './errors.ts'
import { uploadObject } from './upload.ts'

/** Options of {@link GcsObjectStore}. The client options apply only when no ready `client` is given. */
export interface GcsObjectStoreOptions extends GcsConnectionOptions {
  /** The bucket holding the objects. */
  bucket: string
  /** A path inside the bucket that every object key is placed under (slashes at either end are ignored). @default "" */
  prefix?: string
  /**
   * A ready `Storage` client. The store then uses it as it is (its credentials, endpoint and retry settings) and
   * `close()` leaves it alone. Note: with the SDK's default `idempotencyStrategy` (RetryConditional) that client
   * retries uploads and deletes only with a precondition.
   * @default a client built from the other options
   */
  client?: Storage
  /** The connection id shown in {@link GcsObjectStore.url} (`gs://<connectionId>@bucket/prefix`). @default none */
  connectionId?: string
  /** The scheme shown in {@link GcsObjectStore.url}. @default "gs" */
  scheme?: 'gs' | 'gcs'
  /**
   * Retry settings of the client built by the store, merged over the store's default of
   * `{ idempotencyStrategy: IdempotencyStrategy.RetryAlways }` (and `maxRetries` from the options).
   * RetryAlways is safe here because every write the store makes is idempotent (same bytes to the same object key,
   * deletes that ignore a missing object), and it avoids the SDK switching retries off on the whole client
   * (see the README). @default `{ idempotencyStrategy: RetryAlways }`
   */
  retryOptions?: NonNullable<StorageOptions['retryOptions']>
  /**
   * Any other `StorageOptions` for the client built by the store (timeouts, user agent, universe domain...). Its
   * `crc32cGenerator` defaults to the store's faster, equivalent CRC-32C. @default {}
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
   * That request is retried like any other, except on a ready `client` whose strategy is RetryConditional when the
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
  pageSize?: number
}

const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024
const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
/** GCS's largest object: 5 TiB. */
const MAX_OBJECT_SIZE = 5 * 1024 ** 4

/**
 * An {@link ObjectStore} on Google Cloud Storage through `@google-cloud/storage`: streamed resumable uploads,
 * validated and ranged downloads, bounded-concurrency deletes, paginated listing, create-only writes
 * (`ifGenerationMatch=0`). Every SDK error becomes an {@link XComError}.
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
  /** The SDK client in use: the `client` option, or the one the store built. */
  readonly client: Storage
  /** The bucket name. */
  readonly bucket: string
  /** The normalized prefix (no leading or trailing `/`), or `""`. */
  readonly prefix: string
  readonly #bucket: Bucket
  readonly #chunkSize: number | undefined
  readonly #resumableThreshold: number
  readonly #validation: 'crc32c' | 'md5' | false
  readonly #deleteConcurrency: number
  readonly #pageSize: number

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
    this.#pageSize = positive(options.pageSize, 'pageSize', this.url) ?? 1000
    this.client = options.client ?? buildStorage(options, this.url, this)
    this.#bucket = this.client.bucket(this.bucket)
  }

  /**
   * The full object name of `objectKey` in the bucket.
   * @throws XComError `E_INVALID_KEY` for an object key core's `checkObjectKey` refuses (an empty, `.` or `..`
   *   segment, a backslash or a control character).
   */
  objectName(objectKey: string): string {
    return prefixedKey(this.url, this.prefix, objectKey)
  }

  /** The URI of `objectKey`, for messages and references. */
  uriOf(objectKey: string): string {
    return `${this.url}/${objectKey}`
  }

  /**
   * Uploads `body` to `objectKey` with its metadata and content type: in one request when it is at most
   * `resumableThreshold` bytes, else streamed through a resumable upload. Create-only when `ifNoneMatch` is set.
   * @throws XComError `E_INVALID_KEY` for an object key `checkObjectKey` refuses (nothing is sent);
   * `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the object exists; `E_PERMISSION_DENIED`,
   * `E_NOT_FOUND` (no such bucket), `E_CORRUPT` (the upload's crc32c did not match: GCS kept nothing), `E_BACKEND`
   * otherwise; the abort reason when `signal` aborts. A failed upload leaves no object.
   */
  async put(objectKey: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const file = this.#bucket.file(this.objectName(objectKey))
    options.signal?.throwIfAborted()
    const settings = {
      resumableThreshold: this.#resumableThreshold,
      chunkSize: this.#chunkSize,
      validation: this.#validation,
      retriesUnconditionally:
        this.client.retryOptions.idempotencyStrategy === IdempotencyStrategy.RetryAlways,
    }
    return uploadObject(file, body, options, settings, this.uriOf(objectKey))
  }

  /**
   * Opens `objectKey` for reading (the whole object, or `range`, end inclusive). The object's info is read first and
   * the download is pinned to that generation, so a concurrent overwrite cannot mix two versions. Whole-object
   * downloads are checked against the object's crc32c.
   * @throws XComError `E_NOT_FOUND` naming the URI when the object does not exist (also from the stream, when it is
   * deleted before being read); `E_CORRUPT` from the stream when the bytes do not match their checksum;
   * `E_INVALID_KEY` for an object key `checkObjectKey` refuses or a negative or reversed range;
   * `E_PERMISSION_DENIED` / `E_BACKEND` otherwise.
   */
  async get(objectKey: string, options: GetOptions = {}): Promise<ObjectBody> {
    const name = this.objectName(objectKey)
    const uri = this.uriOf(objectKey)
    options.signal?.throwIfAborted()
    let metadata: FileMetadata
    try {
      ;[metadata] = await this.#bucket.file(name).getMetadata()
    } catch (error) {
      throw toXComError(error, { action: 'reading', uri })
    }
    const info = infoOf(objectKey, metadata)
    const span = spanOf(options.range, info.size, uri)
    const generation = metadata.generation
    const file = this.#bucket.file(name, generation === undefined ? {} : { generation: String(generation) })
    return bodyOf(info, file, span, this.#validation, uri, options.signal)
  }

  /**
   * The object's size, update time and custom metadata, or `undefined` when it does not exist.
   * @throws XComError `E_INVALID_KEY` for an object key `checkObjectKey` refuses; `E_NOT_FOUND` when the bucket does
   *   not exist; `E_PERMISSION_DENIED` / `E_BACKEND` for other failures.
   */
  async head(objectKey: string): Promise<ObjectInfo | undefined> {
    const file = this.#bucket.file(this.objectName(objectKey))
    try {
      const [metadata] = await file.getMetadata()
      return infoOf(objectKey, metadata)
    } catch (error) {
      if (isMissingObject(error)) return undefined
      throw toXComError(error, { action: 'reading', uri: this.uriOf(objectKey) })
    }
  }

  /**
   * Deletes `objectKeys`, `deleteConcurrency` at a time. Missing objects are not failures; every other failure is
   * reported per object key (never thrown), so one refused delete does not hide the others. An object key
   * `checkObjectKey` refuses is a failure with its `E_INVALID_KEY` error, and is never sent.
   */
  async deleteMany(
    objectKeys: readonly string[],
  ): Promise<{ failed: { objectKey: string; error: XComError }[] }> {
    const failed: { objectKey: string; error: XComError }[] = []
    const named: [objectKey: string, name: string][] = []
    for (const objectKey of objectKeys) {
      try {
        named.push([objectKey, this.objectName(objectKey)])
      } catch (error) {
        failed.push({ objectKey, error: error as XComError })
      }
    }
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < named.length) {
        const [objectKey, name] = named[next++] as [string, string]
        try {
          await this.#bucket.file(name).delete({ ignoreNotFound: true })
        } catch (error) {
          failed.push({
            objectKey,
            error: toXComError(error, { action: 'deleting', uri: this.uriOf(objectKey) }),
          })
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#deleteConcurrency, named.length) }, worker))
    return { failed }
  }

  /**
   * Every object whose object key starts with `prefix`, `pageSize` per request, following GCS page tokens. Each comes
   * with its custom metadata: GCS listings carry it, so `metadata` is never left empty for want of a `head`.
   * @throws XComError `E_INVALID_KEY` for a prefix with an empty, `.` or `..` segment (one trailing `/` is allowed);
   *   `E_NOT_FOUND` (no such bucket), `E_PERMISSION_DENIED`, `E_BACKEND`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const full = prefixedListPrefix(this.url, this.prefix, prefix)
    const strip = this.prefix ? this.prefix.length + 1 : 0
    let pageToken: string | undefined
    do {
      let files: GetFilesResponse[0]
      let nextQuery: { pageToken?: string } | null | undefined
      try {
        ;[files, nextQuery] = (await this.#bucket.getFiles({
          prefix: full,
          autoPaginate: false,
          maxResults: this.#pageSize,
          ...(pageToken === undefined ? {} : { pageToken }),
        })) as [typeof files, typeof nextQuery, unknown]
      } catch (error) {
        throw toXComError(error, { action: 'listing', uri: `${this.url}/${prefix}` })
      }
      for (const file of files) yield infoOf(file.name.slice(strip), file.metadata)
      pageToken = nextQuery?.pageToken
    } while (pageToken)
  }

  /**
   * Nothing to release: `@google-cloud/storage` has no close, and its keep-alive sockets are released by Node's agent
   * when idle. A client passed as `client` is never touched.
   */
  async close(): Promise<void> {}
}

function infoOf(objectKey: string, metadata: FileMetadata): ObjectInfo {
  const custom: Record<string, string> = {}
  for (const [name, value] of Object.entries(metadata.metadata ?? {})) {
    if (value !== null && value !== undefined) custom[name] = String(value)
  }
  const stamp = metadata.updated ?? metadata.timeCreated
  return {
    objectKey,
    size: Number(metadata.size ?? 0),
    lastModified: stamp ? new Date(stamp) : new Date(0),
    metadata: custom,
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
