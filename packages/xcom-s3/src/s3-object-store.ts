/*
 * S3ObjectStore layout: one S3 object per key, at `<prefix>/<key>` in the bucket (just `<key>` without a prefix).
 * Keys come from the backend already encoded; each is checked by core's checkObjectKey (no empty, "." or ".."
 * segment: S3-compatible servers resolve those to another object), joined to the prefix with '/' and never
 * re-encoded, and list() strips the prefix again. The metadata given to put() is the object's S3 user metadata
 * (`x-amz-meta-<name>`, lowercase ASCII names and ASCII values), read back by get() and head(); listings carry none.
 * Bodies smaller than one part go up in one PutObject; larger or unknown-size bodies go through a multipart upload
 * (upload.ts) holding at most `partSize * queueSize` bytes in memory. Reads stream the GetObject body (with an HTTP
 * Range when asked); an object larger than one part is read as ranged GETs of `partSize`, `readConcurrency` at once,
 * pinned to its ETag (download.ts). removeIncomplete() aborts old unfinished multipart uploads (incomplete.ts).
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type PutObjectCommandInput,
  type S3Client,
  type S3ClientConfig,
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
import { byteChunks, checkObjectKey, checkRange, prefixedKey, prefixedListPrefix } from '@xcom/core/adapter'
import { createClient, type S3Credentials, secretsOf } from './client.ts'
import { bodyOf, partReader, slicing, streamFrom, webStreamOf } from './download.ts'
import { toXComError } from './errors.ts'
import { abortIncompleteUploads } from './incomplete.ts'
import { CONCURRENT_OPERATIONS, integerOption, MAX_DELETE_BATCH, MAX_OBJECT_SIZE } from './options.ts'
import { putSingle, uploadMultipart } from './upload.ts'

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** The bucket holding the objects (it must exist). */
  bucket: string
  /** Key prefix inside the bucket, without leading or trailing `/`. @default "" (the bucket root) */
  prefix?: string
  /**
   * A ready client. When given, `region`, `endpoint`, `forcePathStyle`, `credentials`, `clientConfig` and `maxSockets`
   * are ignored, its socket pool is left as it is (size it for the load: see `maxSockets`), and `close()` leaves it
   * open (it belongs to the caller).
   */
  client?: S3Client
  /** The AWS region. @default the SDK's resolution (AWS_REGION, profile), or `"us-east-1"` when `endpoint` is set */
  region?: string
  /** An S3-compatible endpoint, e.g. `http://127.0.0.1:4569` (MinIO, s3rver, Ceph...). @default AWS */
  endpoint?: string
  /** Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`. @default false */
  forcePathStyle?: boolean
  /** Static credentials or a provider. @default the SDK's default credential chain */
  credentials?: S3Credentials
  /**
   * More settings for the client this store creates (retries, timeouts, profile, request handler). A request handler
   * given as an instance (or agents given as instances) is used as is, without `maxSockets`. @default {}
   */
  clientConfig?: S3ClientConfig
  /** The connection id shown in `url` (`s3://<connId>@bucket/prefix`); informational only. */
  connId?: string
  /**
   * Bytes per multipart part; bodies smaller than this go up in one PutObject. At least 5 MiB. Parts grow for a known
   * size over 10,000 parts; a stream of unknown size can hold at most 10,000 parts (156 GiB at 16 MiB). @default 16 MiB
   */
  partSize?: number
  /** Parts uploaded at once; an upload buffers at most `partSize * queueSize` bytes. @default 4 */
  queueSize?: number
  /**
   * Whether the endpoint honours `If-None-Match: *` on writes (AWS S3 does since 2024). Set `false` for services that
   * ignore it (s3rver, older MinIO/Ceph): `put(..., { ifNoneMatch: true })` then fails with `E_CONFIG` rather than
   * silently overwriting. @default true
   */
  conditionalCreate?: boolean
  /**
   * Ranged GETs in flight when reading an object larger than `partSize` without a range; each buffers one part, so a
   * read holds at most `partSize * readConcurrency` bytes. 1 reads every object with a single GET. @default 4
   */
  readConcurrency?: number
  /**
   * Sockets the client this store creates may open to the endpoint (each for http and https). One upload keeps
   * `queueSize` requests in flight and one read of a large object `readConcurrency`; requests beyond the pool wait for
   * a socket, and the SDK warns "socket usage at capacity" when many wait for long. Ignored with `client`, or with a
   * `clientConfig.requestHandler` instance or agent instances. @default 32 * max(queueSize, readConcurrency), 128 with
   * the defaults: 32 uploads or large reads at full speed at once (the SDK's own default is 50)
   */
  maxSockets?: number
  /** Keys per ListObjectsV2 (and ListMultipartUploads) page (1-1000). @default 1000 */
  pageSize?: number
  /** Keys per DeleteObjects request (1-1000). @default 1000 */
  deleteBatchSize?: number
  /**
   * Whether `list()` fills each object's `metadata` with a HeadObject per object. ListObjectsV2 returns no user
   * metadata, so by default `metadata` is `{}` in listings (the `ObjectStore` contract allows it); `head()` and
   * `get()` always return it. @default false
   */
  listMetadata?: boolean
}

/**
 * An {@link ObjectStore} on Amazon S3 or any S3-compatible service.
 *
 * Every key is checked with `checkObjectKey` of `@xcom/core` before any request: a key with an empty, `.` or `..`
 * segment is refused with `E_INVALID_KEY`, since S3-compatible servers (s3rver among them) resolve such a key to
 * another object. `list()` returns empty `metadata` unless `listMetadata` is set; `head()` and `get()` return the
 * user metadata written with the object. `removeIncomplete()` aborts unfinished multipart uploads under the prefix.
 *
 * @example
 * ```ts
 * const store = new S3ObjectStore({ bucket: 'my-bucket', prefix: 'xcom', region: 'eu-west-1' })
 * ```
 */
export class S3ObjectStore implements ObjectStore {
  /** `s3://[connId@]bucket[/prefix]`, without secrets. */
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
  /** The key prefix (no leading or trailing `/`), `""` for the bucket root. */
  readonly prefix: string
  readonly #ownsClient: boolean
  readonly #partSize: number
  readonly #queueSize: number
  readonly #readConcurrency: number
  readonly #pageSize: number
  readonly #deleteBatchSize: number
  readonly #listMetadata: boolean
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
    this.url = `s3://${options.connId ? `${options.connId}@` : ''}${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`
    if (this.prefix !== '' && !isValidKey(this.prefix)) {
      throw new XComError(
        'E_CONFIG',
        `The prefix of ${this.url} has an empty, "." or ".." segment, a backslash or a control character: give a plain '/'-separated path such as "xcom" or "team/xcom".`,
      )
    }
    this.#partSize = integerOption('partSize', options.partSize, 16 * 1024 * 1024)
    this.#queueSize = integerOption('queueSize', options.queueSize, 4)
    this.#readConcurrency = integerOption('readConcurrency', options.readConcurrency, 4)
    this.#pageSize = integerOption('pageSize', options.pageSize, 1000)
    this.#deleteBatchSize = integerOption('deleteBatchSize', options.deleteBatchSize, MAX_DELETE_BATCH)
    const maxSockets = integerOption(
      'maxSockets',
      options.maxSockets,
      CONCURRENT_OPERATIONS * Math.max(this.#queueSize, this.#readConcurrency),
    )
    this.#listMetadata = options.listMetadata ?? false
    this.capabilities = {
      rangeReads: true,
      conditionalCreate: options.conditionalCreate ?? true,
      maxObjectSize: MAX_OBJECT_SIZE,
      // lib-storage uploads a buffer's parts as views of it, but concatenates a stream's chunks into each part.
      wholeBufferPut: true,
    }
    this.#secrets = secretsOf(options.credentials)
    this.#ownsClient = options.client === undefined
    this.client = options.client ?? createClient(options, maxSockets)
  }

  /**
   * Writes `body` to `key`: one PutObject when the size is known and below `partSize`, a multipart upload otherwise.
   * A failed multipart upload is aborted, so nothing is left behind.
   * @throws XComError `E_INVALID_KEY` for a key with an empty, `.` or `..` segment (before any request);
   * `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the key exists; `E_CONFIG` when
   * `ifNoneMatch` is set on a store whose `capabilities.conditionalCreate` is false; `E_NOT_FOUND` when the bucket is
   * missing; `E_PERMISSION_DENIED`; `E_BACKEND`. An aborted `signal` rejects with its reason.
   */
  async put(key: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const fullKey = this.#fullKey(key)
    const uri = this.#uri(key)
    if (options.ifNoneMatch && !this.capabilities.conditionalCreate) {
      throw new XComError(
        'E_CONFIG',
        `Not writing ${uri}: a create-only write was asked, but this store was built with conditionalCreate: false (its endpoint ignores If-None-Match).`,
        { uri },
      )
    }
    options.signal?.throwIfAborted()
    const params: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: fullKey,
      Metadata: options.metadata,
      ContentType: options.contentType ?? 'application/octet-stream',
      IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
    }
    let sourceError: { error: unknown } | undefined
    try {
      if (body instanceof Uint8Array) {
        if (body.byteLength < this.#partSize) await putSingle(this.client, params, body, options)
        else await this.#putMultipart(params, body, body.byteLength, options)
        return { size: body.byteLength }
      }
      // A stream: read up to one part; if it ends there, one PutObject, else a multipart upload of it all.
      const iterator = byteChunks(body)
      const head: Uint8Array[] = []
      let size = 0
      while (size < this.#partSize) {
        const next = await iterator.next()
        if (next.done) {
          await putSingle(this.client, params, Buffer.concat(head, size), options)
          return { size }
        }
        head.push(next.value)
        size += next.value.byteLength
      }
      const rest = async function* () {
        yield* head
        for (;;) {
          let next: IteratorResult<Uint8Array>
          try {
            next = await iterator.next()
          } catch (error) {
            sourceError = { error }
            throw error
          }
          if (next.done) return
          size += next.value.byteLength
          yield next.value
        }
      }
      await this.#putMultipart(params, streamFrom(rest()), options.size, options)
      return { size }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      // The body's own failure is the real cause, even when aborting the multipart upload failed too.
      throw this.#error(sourceError ? sourceError.error : error, 'writing', uri)
    }
  }

  #putMultipart(
    params: PutObjectCommandInput,
    body: Uint8Array | ReadableStream<Uint8Array>,
    size: number | undefined,
    options: PutOptions,
  ): Promise<void> {
    const settings = { partSize: this.#partSize, queueSize: this.#queueSize, size }
    return uploadMultipart(this.client, params, body, settings, options)
  }

  /**
   * Opens `key` for reading, optionally only the bytes `range.start..range.end` (inclusive). A range past the end is
   * cut at the end. `size` is the size of the whole object. Without a range, an object larger than `partSize` is read
   * as its first part from the plain GET, then ranged GETs of the rest, `readConcurrency` at once, pinned to the ETag.
   * @throws XComError `E_NOT_FOUND` naming the URI (or the bucket) when missing; `E_INVALID_KEY` for a key with an
   * empty, `.` or `..` segment, or a malformed range; `E_PERMISSION_DENIED`; `E_BACKEND` (also, from the body, when the object changes while it is read).
   */
  async get(key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const fullKey = this.#fullKey(key)
    const uri = this.#uri(key)
    const want = checkRange(options.range, uri)
    const range = want ? `bytes=${want.start}-${want.end ?? ''}` : undefined
    let output: GetObjectCommandOutput
    try {
      output = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: fullKey, Range: range }),
        {
          abortSignal: options.signal,
        },
      )
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      // A range starting at or past the end (or any range of an empty object): the object exists, the slice is empty.
      if (range !== undefined && (error as { name?: string })?.name === 'InvalidRange') {
        const info = await this.head(key)
        if (info) return { ...info, ...bodyOf(new Uint8Array(0)) }
      }
      throw this.#error(error, 'reading', uri)
    }
    const body = output.Body
    const served = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(output.ContentRange ?? '')
    const size = served ? Number(served[3]) : (output.ContentLength ?? 0)
    const info = {
      key,
      size,
      lastModified: output.LastModified ?? new Date(0),
      metadata: { ...output.Metadata },
    }
    if (!body) return { ...info, ...bodyOf(new Uint8Array(0)) }
    const first = served ? Number(served[1]) : 0
    const last = served ? Number(served[2]) : size - 1
    // Some S3-compatible servers ignore or widen a Range (s3rver serves all of "bytes=0-0"): cut to what was asked.
    if (want && (first !== want.start || last > (want.end ?? last))) {
      const window = slicing(want.start - first, Math.min(want.end ?? last, last) - want.start + 1)
      const stream = () => webStreamOf(body).pipeThrough(window)
      return {
        ...info,
        stream,
        bytes: async () => new Uint8Array(await new Response(stream()).arrayBuffer()),
      }
    }
    if (!want && this.#readConcurrency > 1 && size > this.#partSize) {
      const parted = {
        client: this.client,
        bucket: this.bucket,
        fullKey,
        uri,
        size,
        etag: output.ETag,
        partSize: this.#partSize,
        readConcurrency: this.#readConcurrency,
        mapError: (error: unknown) => this.#error(error, 'reading', uri),
      }
      return { ...info, ...partReader(parted, body, options.signal) }
    }
    return { ...info, stream: () => webStreamOf(body), bytes: () => body.transformToByteArray() }
  }

  /**
   * The object's size, date and metadata, or `undefined` when it does not exist. (S3 answers a HEAD on a missing
   * bucket like one on a missing key, so that is `undefined` too.) The metadata is the user metadata written with the
   * object, which listings do not carry.
   * @throws XComError `E_INVALID_KEY` for a key with an empty, `.` or `..` segment; `E_PERMISSION_DENIED`; `E_BACKEND`.
   */
  async head(key: string): Promise<ObjectInfo | undefined> {
    const fullKey = this.#fullKey(key)
    const uri = this.#uri(key)
    let output: HeadObjectCommandOutput
    try {
      output = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }))
    } catch (error) {
      const mapped = this.#error(error, 'checking', uri)
      if (mapped.code === 'E_NOT_FOUND') return undefined
      throw mapped
    }
    return {
      key,
      size: output.ContentLength ?? 0,
      lastModified: output.LastModified ?? new Date(0),
      metadata: { ...output.Metadata },
    }
  }

  /**
   * Deletes `keys` with DeleteObjects, up to 1000 keys per request. Missing keys are not failures. A key S3 could not
   * delete is reported with its mapped error; a request that fails as a whole reports each of its keys. A key with an
   * empty, `.` or `..` segment is reported with its `E_INVALID_KEY` error and never sent; the others are still
   * deleted.
   */
  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: XComError }[] }> {
    const failed: { key: string; error: XComError }[] = []
    const valid: string[] = []
    for (const key of new Set(keys)) {
      try {
        this.#fullKey(key)
        valid.push(key)
      } catch (error) {
        failed.push({ key, error: error as XComError })
      }
    }
    for (let start = 0; start < valid.length; start += this.#deleteBatchSize) {
      const batch = valid.slice(start, start + this.#deleteBatchSize)
      const byFullKey = new Map(batch.map((key) => [this.#fullKey(key), key]))
      try {
        const output = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: [...byFullKey.keys()].map((Key) => ({ Key })), Quiet: true },
          }),
        )
        for (const entry of output.Errors ?? []) {
          const key = byFullKey.get(entry.Key ?? '') ?? entry.Key ?? ''
          if (entry.Code === 'NoSuchKey') continue
          failed.push({
            key,
            error: this.#error(entry, 'deleting', this.#uri(key)),
          })
        }
      } catch (error) {
        const mapped = this.#error(error, 'deleting', this.url)
        for (const key of batch) failed.push({ key, error: mapped })
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
    const fullPrefix = prefixedListPrefix(this.url, this.prefix, prefix)
    const base = this.#base()
    let token: string | undefined
    do {
      let page: ListObjectsV2CommandOutput
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: fullPrefix,
            ContinuationToken: token,
            MaxKeys: this.#pageSize,
          }),
        )
      } catch (error) {
        throw this.#error(error, 'listing', this.#uri(prefix))
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(base)) continue
        const key = object.Key.slice(base.length)
        const listed = {
          key,
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
          metadata: {},
        }
        // A key the store would refuse (written by something else) is listed as it is, without its metadata.
        if (this.#listMetadata && isValidKey(key)) {
          const info = await this.head(key)
          if (info) yield info
          continue
        }
        yield listed
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
   * @returns how many uploads were aborted, and `s3://.../key?uploadId=...` of those that could not be.
   * @throws XComError when the uploads cannot be listed: `E_PERMISSION_DENIED` without
   * `s3:ListBucketMultipartUploads`, `E_NOT_FOUND` for a missing bucket, `E_BACKEND`.
   */
  removeIncomplete(startedBefore: Date): Promise<IncompleteReport> {
    const scope = {
      client: this.client,
      bucket: this.bucket,
      base: this.#base(),
      storeUrl: this.url,
      pageSize: this.#pageSize,
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

  /** The key in the bucket: the one place keys are checked (no empty, `.` or `..` segment). */
  #fullKey(key: string): string {
    return prefixedKey(this.url, this.prefix, key)
  }

  /** What every key of the store starts with in the bucket. */
  #base(): string {
    return this.prefix ? `${this.prefix}/` : ''
  }

  #uri(key: string): string {
    return `${this.url}/${key}`
  }
}

function isValidKey(key: string): boolean {
  try {
    checkObjectKey('', key)
    return true
  } catch {
    return false
  }
}
