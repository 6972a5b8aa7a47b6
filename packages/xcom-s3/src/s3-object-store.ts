/*
 * S3ObjectStore layout: one S3 object per key, at `<prefix>/<key>` in the bucket (just `<key>` without a prefix).
 * Keys come from the backend already encoded; they are joined to the prefix with '/' and never re-encoded, and list()
 * strips the prefix again. The metadata given to put() is the object's S3 user metadata (`x-amz-meta-<name>`,
 * lowercase ASCII names and ASCII values), read back by get() and head(). Bodies smaller than one part go up in one
 * PutObject; larger or unknown-size bodies go through a multipart upload (@aws-sdk/lib-storage) holding at most
 * `partSize * queueSize` bytes in memory. Reads stream the GetObject body (with an HTTP Range when asked); an object
 * larger than one part is read as ranged GETs of `partSize`, `readConcurrency` at once, pinned to its ETag.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import {
  type ByteSource,
  byteChunks,
  checkRange,
  type GetOptions,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  XComError,
} from '@xcom/core'
import { toXComError } from './errors.js'

/** S3's smallest multipart part (except the last one). */
const MIN_PART_SIZE = 5 * 1024 * 1024
/** The most keys one DeleteObjects request may carry. */
const MAX_DELETE_BATCH = 1000
/** The most parts one multipart upload may have. */
const MAX_PARTS = 10_000
/** S3's largest object (5 TiB). */
const MAX_OBJECT_SIZE = 5 * 1024 ** 4

/** Credentials for the S3 client: static keys or an SDK credential provider. */
export type S3Credentials = NonNullable<S3ClientConfig['credentials']>

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** The bucket holding the objects (it must exist). */
  bucket: string
  /** Key prefix inside the bucket, without leading or trailing `/`. @default "" (the bucket root) */
  prefix?: string
  /**
   * A ready client. When given, `region`, `endpoint`, `forcePathStyle`, `credentials` and `clientConfig` are ignored and
   * `close()` leaves the client open (it belongs to the caller).
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
  /** More settings for the client this store creates (retries, timeouts, profile, request handler). @default {} */
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
  /** Keys per ListObjectsV2 page (1-1000). @default 1000 */
  pageSize?: number
  /** Keys per DeleteObjects request (1-1000). @default 1000 */
  deleteBatchSize?: number
  /**
   * Whether `list()` fills each object's `metadata` with a HeadObject per object. Listing returns no user metadata,
   * so by default `metadata` is `{}` there; use `head()` for one object. @default false
   */
  listMetadata?: boolean
}

/**
 * An {@link ObjectStore} on Amazon S3 or any S3-compatible service.
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

  /** @throws XComError `E_CONFIG` for a missing bucket name or out-of-range sizes. */
  constructor(options: S3ObjectStoreOptions) {
    if (typeof options?.bucket !== 'string' || options.bucket === '') {
      throw new XComError('E_CONFIG', 'new S3ObjectStore({ bucket }) needs the name of an existing bucket.')
    }
    this.bucket = options.bucket
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '')
    this.url = `s3://${options.connId ? `${options.connId}@` : ''}${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`
    this.#partSize = checkInteger(
      'partSize',
      options.partSize ?? 16 * 1024 * 1024,
      MIN_PART_SIZE,
      5 * 1024 ** 3,
    )
    this.#queueSize = checkInteger('queueSize', options.queueSize ?? 4, 1, 64)
    this.#readConcurrency = checkInteger('readConcurrency', options.readConcurrency ?? 4, 1, 64)
    this.#pageSize = checkInteger('pageSize', options.pageSize ?? 1000, 1, 1000)
    this.#deleteBatchSize = checkInteger(
      'deleteBatchSize',
      options.deleteBatchSize ?? MAX_DELETE_BATCH,
      1,
      MAX_DELETE_BATCH,
    )
    this.#listMetadata = options.listMetadata ?? false
    this.capabilities = {
      rangeReads: true,
      conditionalCreate: options.conditionalCreate ?? true,
      maxObjectSize: MAX_OBJECT_SIZE,
      // lib-storage uploads a buffer's parts as views of it, but concatenates a stream's chunks into each part.
      wholeBufferPut: true,
    }
    const credentials = options.credentials
    this.#secrets =
      typeof credentials === 'object' && credentials !== null
        ? [credentials.secretAccessKey, credentials.sessionToken ?? ''].filter(Boolean)
        : []
    this.#ownsClient = options.client === undefined
    this.client =
      options.client ??
      new S3Client({
        ...options.clientConfig,
        ...defined({
          region:
            options.region ?? options.clientConfig?.region ?? (options.endpoint ? 'us-east-1' : undefined),
          endpoint: options.endpoint,
          forcePathStyle: options.forcePathStyle,
          credentials,
        }),
      })
  }

  /**
   * Writes `body` to `key`: one PutObject when the size is known and below `partSize`, a multipart upload otherwise.
   * A failed multipart upload is aborted, so nothing is left behind.
   * @throws XComError `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the key exists; `E_CONFIG` when
   * `ifNoneMatch` is set on a store whose `capabilities.conditionalCreate` is false; `E_NOT_FOUND` when the bucket is
   * missing; `E_PERMISSION_DENIED`; `E_BACKEND`. An aborted `signal` rejects with its reason.
   */
  async put(key: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
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
      Key: this.#fullKey(key),
      Metadata: options.metadata,
      ContentType: options.contentType ?? 'application/octet-stream',
      IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
    }
    let sourceError: { error: unknown } | undefined
    try {
      if (body instanceof Uint8Array) {
        if (body.byteLength < this.#partSize) await this.#putSingle(params, body, options)
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
          await this.#putSingle(params, Buffer.concat(head, size), options)
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

  async #putSingle(params: PutObjectCommandInput, bytes: Uint8Array, options: PutOptions): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ ...params, Body: bytes, ContentLength: bytes.byteLength }),
      {
        abortSignal: options.signal,
      },
    )
    options.onProgress?.(bytes.byteLength)
  }

  /** A multipart upload through lib-storage; a failure aborts the upload (no parts are left) and cancels the body. */
  async #putMultipart(
    params: PutObjectCommandInput,
    body: Uint8Array | ReadableStream<Uint8Array>,
    size: number | undefined,
    options: PutOptions,
  ): Promise<void> {
    const abortController = new AbortController()
    const onAbort = () => abortController.abort(options.signal?.reason)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const upload = new Upload({
      client: this.client,
      params: { ...params, Body: body },
      // S3 takes at most 10,000 parts: a known large size gets larger parts.
      partSize: Math.max(this.#partSize, Math.ceil((size ?? 0) / MAX_PARTS)),
      queueSize: this.#queueSize,
      leavePartsOnError: false,
      abortController,
    })
    const onProgress = options.onProgress
    if (onProgress) {
      upload.on('httpUploadProgress', (progress) => {
        if (progress.loaded !== undefined) onProgress(progress.loaded)
      })
    }
    try {
      await upload.done()
    } catch (error) {
      if (body instanceof ReadableStream) await body.cancel(error).catch(() => {})
      throw error
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Opens `key` for reading, optionally only the bytes `range.start..range.end` (inclusive). A range past the end is
   * cut at the end. `size` is the size of the whole object. Without a range, an object larger than `partSize` is read
   * as its first part from the plain GET, then ranged GETs of the rest, `readConcurrency` at once, pinned to the ETag.
   * @throws XComError `E_NOT_FOUND` naming the URI (or the bucket) when missing; `E_INVALID_KEY` for a malformed
   * range; `E_PERMISSION_DENIED`; `E_BACKEND` (also, from the body, when the object changes while it is read).
   */
  async get(key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const uri = this.#uri(key)
    const fullKey = this.#fullKey(key)
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
      return { ...info, ...this.#partReader(fullKey, uri, body, size, output.ETag, options.signal) }
    }
    return { ...info, stream: () => webStreamOf(body), bytes: () => body.transformToByteArray() }
  }

  /**
   * The body of an object of `size` bytes read in `partSize` parts, at most `readConcurrency` at once (each buffered
   * whole), delivered in order: the first part from `firstBody` (a GET of the whole object, dropped after that part),
   * the others from ranged GETs.
   */
  #partReader(
    fullKey: string,
    uri: string,
    firstBody: NonNullable<GetObjectCommandOutput['Body']>,
    size: number,
    etag: string | undefined,
    signal: AbortSignal | undefined,
  ): Pick<ObjectBody, 'stream' | 'bytes'> {
    const stop = new AbortController()
    const abortSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal
    const starts = [0]
    for (let start = this.#partSize; start < size; start += this.#partSize) starts.push(start)
    const changed = (cause?: unknown) =>
      new XComError(
        'E_BACKEND',
        `Reading ${uri} failed: the object changed while it was being read. Read it again.`,
        {
          uri,
          cause,
        },
      )
    /** Fills `target` with the part starting at `start`. */
    const fetchInto = async (start: number, target: Uint8Array): Promise<Uint8Array> => {
      let body: unknown = firstBody
      if (start !== 0) {
        const range = `bytes=${start}-${start + target.byteLength - 1}`
        try {
          const part = await this.client.send(
            new GetObjectCommand({ Bucket: this.bucket, Key: fullKey, Range: range, IfMatch: etag }),
            { abortSignal },
          )
          body = part.Body
        } catch (error) {
          if (abortSignal.aborted) throw signal?.aborted ? signal.reason : error
          const mapped = this.#error(error, 'reading', uri)
          // A failed If-Match, or a range past a new, shorter end: the object was replaced.
          const replaced =
            mapped.code === 'E_PRECONDITION_FAILED' || (error as { name?: string })?.name === 'InvalidRange'
          throw replaced ? changed(error) : mapped
        }
      }
      let offset = 0
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        const room = target.byteLength - offset
        // The first body carries the whole object: stop (and drop the response) once the first part is in.
        if (chunk.byteLength > room && start !== 0) throw changed()
        target.set(chunk.byteLength > room ? chunk.subarray(0, room) : chunk, offset)
        offset += Math.min(room, chunk.byteLength)
        if (offset === target.byteLength && start === 0) break
      }
      if (offset !== target.byteLength) throw changed()
      return target
    }
    const lengthOf = (index: number) => ((starts[index + 1] ?? size) as number) - (starts[index] as number)
    const cancel = () => {
      stop.abort()
      ;(firstBody as { destroy?: () => void }).destroy?.()
    }
    return {
      stream: () => {
        const pending: Promise<Uint8Array>[] = []
        let next = 0
        const fill = () => {
          for (; pending.length < this.#readConcurrency && next < starts.length; next++) {
            const part = fetchInto(starts[next] as number, Buffer.allocUnsafe(lengthOf(next)))
            part.catch(() => {})
            pending.push(part)
          }
        }
        return new ReadableStream<Uint8Array>(
          {
            async pull(controller) {
              fill()
              const part = pending.shift()
              if (!part) return controller.close()
              try {
                controller.enqueue(await part)
              } catch (error) {
                cancel()
                throw error
              }
              fill()
            },
            cancel,
          },
          { highWaterMark: 0 },
        )
      },
      bytes: async () => {
        const out = Buffer.allocUnsafe(size)
        let next = 0
        const worker = async () => {
          while (next < starts.length) {
            const index = next++
            const start = starts[index] as number
            await fetchInto(start, out.subarray(start, start + lengthOf(index)))
          }
        }
        try {
          await Promise.all(Array.from({ length: Math.min(this.#readConcurrency, starts.length) }, worker))
        } catch (error) {
          cancel()
          throw error
        }
        return new Uint8Array(out.buffer, out.byteOffset, size)
      },
    }
  }

  /**
   * The object's size, date and metadata, or `undefined` when it does not exist. (S3 answers a HEAD on a missing
   * bucket like one on a missing key, so that is `undefined` too.)
   * @throws XComError `E_PERMISSION_DENIED`; `E_BACKEND`.
   */
  async head(key: string): Promise<ObjectInfo | undefined> {
    const uri = this.#uri(key)
    let output: HeadObjectCommandOutput
    try {
      output = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#fullKey(key) }))
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
   * delete is reported with its mapped error; a request that fails as a whole reports each of its keys.
   */
  async deleteMany(keys: readonly string[]): Promise<{ failed: { key: string; error: XComError }[] }> {
    const failed: { key: string; error: XComError }[] = []
    const unique = [...new Set(keys)]
    for (let start = 0; start < unique.length; start += this.#deleteBatchSize) {
      const batch = unique.slice(start, start + this.#deleteBatchSize)
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
   * ListObjectsV2. `metadata` is `{}` unless the store was built with `listMetadata: true`.
   * @throws XComError `E_NOT_FOUND` when the bucket is missing; `E_PERMISSION_DENIED`; `E_BACKEND`.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const base = this.prefix ? `${this.prefix}/` : ''
    let token: string | undefined
    do {
      let page: ListObjectsV2CommandOutput
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: base + prefix,
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
        if (this.#listMetadata) {
          const info = await this.head(key)
          if (info) yield info
          continue
        }
        yield { key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0), metadata: {} }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  /** Destroys the client if this store created it; a client passed in stays open. */
  async close(): Promise<void> {
    if (this.#ownsClient) this.client.destroy()
  }

  #error(error: unknown, action: string, uri: string): XComError {
    return toXComError(error, { action, uri, bucket: this.bucket, secrets: this.#secrets })
  }

  #fullKey(key: string): string {
    if (typeof key !== 'string' || key === '') {
      throw new XComError(
        'E_INVALID_KEY',
        `Invalid object key ${JSON.stringify(key)} for ${this.url}: keys are non-empty strings.`,
      )
    }
    return this.prefix ? `${this.prefix}/${key}` : key
  }

  #uri(key: string): string {
    return `${this.url}/${key}`
  }
}

/** The body of an object held in memory. */
function bodyOf(bytes: Uint8Array): Pick<ObjectBody, 'stream' | 'bytes'> {
  return {
    stream: () =>
      new ReadableStream({
        start(controller) {
          if (bytes.byteLength > 0) controller.enqueue(bytes)
          controller.close()
        },
      }),
    bytes: async () => bytes,
  }
}

/** Passes on `length` bytes after skipping `skip` bytes, and drops the rest. */
function slicing(skip: number, length: number): TransformStream<Uint8Array, Uint8Array> {
  let offset = 0
  return new TransformStream({
    transform(chunk, controller) {
      const from = Math.max(0, skip - offset)
      const to = Math.min(chunk.byteLength, skip + length - offset)
      offset += chunk.byteLength
      if (to > from) controller.enqueue(chunk.subarray(from, to))
    },
  })
}

/**
 * The response body as a web stream. In Node the body is an http.IncomingMessage: pulling from its async iterator
 * costs less per chunk than the SDK's `transformToWebStream()`; cancelling the stream destroys the response.
 */
function webStreamOf(body: NonNullable<GetObjectCommandOutput['Body']>): ReadableStream<Uint8Array> {
  const iterate = (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator]
  if (typeof iterate === 'function') return streamFrom(iterate.call(body))
  return body.transformToWebStream() as ReadableStream<Uint8Array>
}

/** A web stream pulling from an async iterator (returning the iterator when the stream is cancelled). */
function streamFrom(iterator: AsyncIterator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await iterator.next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      async cancel(reason) {
        await iterator.return?.(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new XComError(
      'E_CONFIG',
      `S3ObjectStore option ${name} must be an integer from ${min} to ${max}, got ${value}.`,
    )
  }
  return value
}

function defined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>
}
