/*
 * S3ObjectStore layout: one S3 object per object key, at `<prefix>/<objectKey>` in the bucket (just `<objectKey>`
 * without a prefix). Object keys come from the backend already encoded; each is checked by core's checkObjectKey (no
 * empty, "." or ".." segment: S3-compatible servers resolve those to another object), joined to the prefix with '/'
 * and never re-encoded, and list() strips the prefix again. The metadata given to put() is the object's S3 user
 * metadata (`x-amz-meta-<name>`, lowercase ASCII names and ASCII values), read back by get() and head(); listings
 * carry none. Bodies smaller than one part go up in one PutObject; larger or unknown-size bodies go through a multipart
 * upload holding at most `partSize * queueSize` bytes in memory (upload.ts). Reads stream the GetObject body (with an
 * HTTP Range when asked); an object larger than one part is read as ranged GETs of `partSize`, `readConcurrency` at
 * once, pinned to its ETag (download.ts). removeIncomplete() aborts old unfinished multipart uploads (incomplete.ts).
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3'
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
import { checkObjectKey, checkRange, prefixedKey, prefixedListPrefix } from '@xcom/core/adapter'
import { createClient, secretsOf } from './client.ts'
import { bodyOf, responseBody } from './download.ts'
import { toXComError } from './errors.ts'
import { abortIncompleteUploads } from './incomplete.ts'
import { MAX_OBJECT_SIZE, type S3ObjectStoreOptions, type StoreSettings, storeSettings } from './options.ts'
import { addRetryLog } from './retries.ts'
import { uploadBody } from './upload.ts'

/**
 * An {@link ObjectStore} on Amazon S3 or any S3-compatible service.
 *
 * Every object key is checked with `checkObjectKey` of `@xcom/core` before any request: one with an empty, `.` or
 * `..` segment is refused with `E_INVALID_KEY`, since S3-compatible servers (s3rver among them) resolve such a key to
 * another object. `list()` returns empty `metadata` unless `listMetadata` is set; `head()` and `get()` return the
 * user metadata written with the object. `removeIncomplete()` aborts unfinished multipart uploads under the prefix.
 *
 * @example
 * ```ts
 * const store = new S3ObjectStore({ bucket: 'my-bucket', prefix: 'xcom', region: 'eu-west-1' })
 * ```
 */
export class S3ObjectStore implements ObjectStore {
  /** `s3://[connectionId@]bucket[/prefix]`, without secrets. */
  readonly url: string
  /** Range reads always; conditional creates unless turned off by `conditionalCreate: false`. */
  readonly capabilities: {
    rangeReads: boolean
    conditionalCreate: boolean
    maxObjectSize: number
    wholeBufferPut: boolean
  }
  /** The SDK client in use. */
  readonly client: S3Client
  /** The bucket. */
  readonly bucket: string
  /** The object key prefix (no leading or trailing `/`), `""` for the bucket root. */
  readonly prefix: string
  readonly #ownsClient: boolean
  readonly #settings: StoreSettings
  readonly #secrets: string[]
  #warnedNoUploadListing = false

  /**
   * @throws XComError `E_CONFIG` for a missing bucket name, a prefix with an empty, `.` or `..` segment, or an
   * option out of range (naming the option, the value and the valid range).
   */
  constructor(options: S3ObjectStoreOptions) {
    if (typeof options?.bucket !== 'string' || options.bucket === '') {
      throw new XComError('E_CONFIG', 'new S3ObjectStore({ bucket }) needs the name of an existing bucket.')
    }
    this.bucket = options.bucket
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '')
    const user = options.connectionId ? `${options.connectionId}@` : ''
    this.url = `s3://${user}${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`
    if (this.prefix !== '' && !isValidKey(this.prefix)) {
      throw new XComError(
        'E_CONFIG',
        `The prefix of ${this.url} has an empty, "." or ".." segment, a backslash or a control character: give a plain '/'-separated path such as "xcom" or "team/xcom".`,
      )
    }
    this.#settings = storeSettings(options)
    this.capabilities = {
      rangeReads: true,
      conditionalCreate: this.#settings.conditionalCreate,
      maxObjectSize: MAX_OBJECT_SIZE,
      // lib-storage uploads a buffer's parts as views of it, but concatenates a stream's chunks into each part.
      wholeBufferPut: true,
    }
    this.#secrets = secretsOf(options.credentials)
    this.#ownsClient = options.client === undefined
    this.client = options.client ?? createClient(options, this.#settings.maxSockets)
    // A client passed in gets the log too (added once, without this store's connection id: others may share it).
    addRetryLog(this.client, this.#ownsClient ? options.connectionId : undefined)
  }

  /**
   * Writes `body` to `objectKey`: one PutObject when the size is known and below `partSize`, a multipart upload
   * otherwise. A failed multipart upload is aborted, so nothing is left behind.
   * @throws XComError `E_INVALID_KEY` for an object key with an empty, `.` or `..` segment (before any request);
   * `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the object exists; `E_CONFIG` when `ifNoneMatch` is set on
   * a store whose `capabilities.conditionalCreate` is false; `E_NOT_FOUND` when the bucket is missing;
   * `E_PERMISSION_DENIED`; `E_BACKEND` (also for the body's own error). An aborted `signal` rejects with its reason.
   */
  async put(objectKey: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const fullKey = this.#fullKey(objectKey)
    const uri = this.#uri(objectKey)
    if (options.ifNoneMatch && !this.capabilities.conditionalCreate) {
      throw new XComError(
        'E_CONFIG',
        `Not writing ${uri}: a create-only write was asked, but this store was built with conditionalCreate: false (its endpoint ignores If-None-Match).`,
        { uri },
      )
    }
    options.signal?.throwIfAborted()
    const params = {
      Bucket: this.bucket,
      Key: fullKey,
      Metadata: options.metadata,
      ContentType: options.contentType ?? 'application/octet-stream',
      IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
    }
    try {
      return { size: await uploadBody(this.client, params, body, this.#settings, options) }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      throw this.#error(error, 'writing', uri)
    }
  }

  /**
   * Opens `objectKey` for reading, optionally only the bytes `range.start..range.end` (inclusive). A range past the
   * end is cut at the end. `size` is the size of the whole object. Without a range, an object larger than `partSize`
   * is read as its first part from the plain GET, then ranged GETs of the rest, `readConcurrency` at once, pinned to
   * the ETag.
   * @throws XComError `E_NOT_FOUND` naming the URI (or the bucket) when missing; `E_INVALID_KEY` for an object key with
   * an empty, `.` or `..` segment, or a malformed range; `E_PERMISSION_DENIED`; `E_BACKEND` (also, from the body, when
   * the object changes while it is read).
   */
  async get(objectKey: string, options: GetOptions = {}): Promise<ObjectBody> {
    const fullKey = this.#fullKey(objectKey)
    const uri = this.#uri(objectKey)
    const range = checkRange(options.range, uri)
    const Range = range ? `bytes=${range.start}-${range.end ?? ''}` : undefined
    let output: GetObjectCommandOutput
    try {
      output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey, Range }), {
        abortSignal: options.signal,
      })
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      // A range starting at or past the end (or any range of an empty object): the object exists, the slice is empty.
      if (range !== undefined && (error as { name?: string })?.name === 'InvalidRange') {
        const info = await this.head(objectKey)
        if (info) return { ...info, ...bodyOf(new Uint8Array(0)) }
      }
      throw this.#error(error, 'reading', uri)
    }
    const { partSize, readConcurrency } = this.#settings
    const read = { client: this.client, bucket: this.bucket, fullKey, uri, range, partSize, readConcurrency }
    const mapError = (error: unknown) => this.#error(error, 'reading', uri)
    const { size, stream, bytes } = responseBody(output, { ...read, signal: options.signal, mapError })
    const lastModified = output.LastModified ?? new Date(0)
    return { objectKey, size, lastModified, metadata: { ...output.Metadata }, stream, bytes }
  }

  /**
   * The object's size, date and metadata, or `undefined` when it does not exist. (S3 answers a HEAD on a missing
   * bucket like one on a missing key, so that is `undefined` too.) The metadata is the user metadata written with the
   * object, which listings do not carry.
   * @throws XComError `E_INVALID_KEY` for an object key with an empty, `.` or `..` segment; `E_PERMISSION_DENIED`;
   * `E_BACKEND`.
   */
  async head(objectKey: string): Promise<ObjectInfo | undefined> {
    const fullKey = this.#fullKey(objectKey)
    let output: HeadObjectCommandOutput
    try {
      output = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }))
    } catch (error) {
      const mapped = this.#error(error, 'checking', this.#uri(objectKey))
      if (mapped.code === 'E_NOT_FOUND') return undefined
      throw mapped
    }
    return {
      objectKey,
      size: output.ContentLength ?? 0,
      lastModified: output.LastModified ?? new Date(0),
      metadata: { ...output.Metadata },
    }
  }

  /**
   * Deletes `objectKeys` with DeleteObjects, up to 1000 per request. Missing objects are not failures. An object S3
   * could not delete is reported with its mapped error; a request that fails as a whole reports each of its object
   * keys. An object key with an empty, `.` or `..` segment is reported with its `E_INVALID_KEY` error and never sent;
   * the others are still deleted.
   */
  async deleteMany(
    objectKeys: readonly string[],
  ): Promise<{ failed: { objectKey: string; error: XComError }[] }> {
    const failed: { objectKey: string; error: XComError }[] = []
    const valid: string[] = []
    for (const objectKey of new Set(objectKeys)) {
      try {
        this.#fullKey(objectKey)
        valid.push(objectKey)
      } catch (error) {
        failed.push({ objectKey, error: error as XComError })
      }
    }
    const { deleteBatchSize } = this.#settings
    for (let start = 0; start < valid.length; start += deleteBatchSize) {
      const batch = valid.slice(start, start + deleteBatchSize)
      const byFullKey = new Map(batch.map((objectKey) => [this.#fullKey(objectKey), objectKey]))
      try {
        const output = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: [...byFullKey.keys()].map((Key) => ({ Key })), Quiet: true },
          }),
        )
        for (const entry of output.Errors ?? []) {
          if (entry.Code === 'NoSuchKey') continue
          const objectKey = byFullKey.get(entry.Key ?? '') ?? entry.Key ?? ''
          failed.push({ objectKey, error: this.#error(entry, 'deleting', this.#uri(objectKey)) })
        }
      } catch (error) {
        const mapped = this.#error(error, 'deleting', this.url)
        for (const objectKey of batch) failed.push({ objectKey, error: mapped })
      }
    }
    return { failed }
  }

  /**
   * Every object whose key (relative to the store's prefix) starts with `prefix`, in key order, paginating with
   * ListObjectsV2. `metadata` is `{}` unless the store was built with `listMetadata: true` (ListObjectsV2 returns no
   * user metadata): call `head()` for it.
   * @throws XComError `E_INVALID_KEY` for a prefix with an empty, `.` or `..` segment (a trailing `/` is fine);
   * `E_NOT_FOUND` when the bucket is missing; `E_PERMISSION_DENIED`; `E_BACKEND`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const Prefix = prefixedListPrefix(this.url, this.prefix, prefix)
    const base = this.#base()
    const { pageSize, listMetadata } = this.#settings
    let token: string | undefined
    do {
      let page: ListObjectsV2CommandOutput
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix,
            ContinuationToken: token,
            MaxKeys: pageSize,
          }),
        )
      } catch (error) {
        throw this.#error(error, 'listing', this.#uri(prefix))
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(base)) continue
        const objectKey = object.Key.slice(base.length)
        // An object key the store would refuse (written by something else) is listed as it is, without metadata.
        if (listMetadata && isValidKey(objectKey)) {
          const info = await this.head(objectKey)
          if (info) yield info
          continue
        }
        yield {
          objectKey,
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
          metadata: {},
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  /**
   * Aborts the unfinished multipart uploads under the store's prefix initiated before `startedBefore`: what an upload
   * interrupted by a crash or a kill leaves behind (S3 keeps, and bills, their parts until then). At the bucket root
   * that is every unfinished upload of the bucket. Uploads whose age is unknown are kept.
   *
   * An endpoint without ListMultipartUploads (s3rver, some S3-compatible services) has nothing this can find: the
   * report is empty, and the first such call of the store emits a process warning (code
   * `XCOM_S3_NO_UPLOAD_LISTING`) saying so, rather than failing every `gc()`.
   * @returns how many uploads were aborted, and `s3://.../<objectKey>?uploadId=...` of those that could not be.
   * @throws XComError when the uploads cannot be listed: `E_PERMISSION_DENIED` without
   * `s3:ListBucketMultipartUploads`, `E_NOT_FOUND` for a missing bucket, `E_BACKEND`.
   */
  removeIncomplete(startedBefore: Date): Promise<IncompleteReport> {
    const scope = {
      client: this.client,
      bucket: this.bucket,
      base: this.#base(),
      storeUrl: this.url,
      pageSize: this.#settings.pageSize,
      mapError: (error: unknown, action: string, uri: string) => this.#error(error, action, uri),
      onUnsupported: (error: XComError) => {
        if (this.#warnedNoUploadListing) return
        this.#warnedNoUploadListing = true
        process.emitWarning(error.message, { type: 'XComWarning', code: 'XCOM_S3_NO_UPLOAD_LISTING' })
      },
    }
    return abortIncompleteUploads(scope, startedBefore)
  }

  /** Destroys the client if this store created it; a client passed in stays open. */
  async close(): Promise<void> {
    if (this.#ownsClient) this.client.destroy()
  }

  #error(error: unknown, action: string, uri: string): XComError {
    return toXComError(error, { action, uri, bucket: this.bucket, secrets: this.#secrets })
  }

  /** The key in the bucket: the one place object keys are checked (no empty, `.` or `..` segment). */
  #fullKey(objectKey: string): string {
    return prefixedKey(this.url, this.prefix, objectKey)
  }

  /** What every object key of the store starts with in the bucket. */
  #base(): string {
    return this.prefix ? `${this.prefix}/` : ''
  }

  #uri(objectKey: string): string {
    return `${this.url}/${objectKey}`
  }
}

function isValidKey(objectKey: string): boolean {
  try {
    checkObjectKey('', objectKey)
    return true
  } catch {
    return false
  }
}
