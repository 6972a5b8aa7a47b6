/**
 * The project's GCS JSON-API test server: enough of https://storage.googleapis.com/storage/v1 on node:http, in memory,
 * for the unmodified @google-cloud/storage SDK (via `apiEndpoint`) and for raw HTTP clients.
 *
 * Layout: buckets -> objects (one live generation per name, bytes kept as the chunks they arrived in) and resumable
 * upload sessions keyed by `upload_id`. Routes are accepted with and without the `/storage/v1` prefix (the SDK drops it
 * when STORAGE_EMULATOR_HOST is set), uploads under `/upload[/storage/v1]`, downloads also under `/download/...`.
 * The request shapes it answers are those captured in shared/GCS-JSON-API.md.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { ChunkedBytes, readBody } from './bytes.ts'
import { GcsError, sendEmpty, sendError, sendJson } from './http.ts'
import { listPage, parseListRequest } from './listing.ts'
import { parseMultipartRelated } from './multipart.ts'

/** Options of {@link startGcsServer}. */
export interface GcsServerOptions {
  /**
   * The project id clients should pass (`new Storage({ apiEndpoint, projectId })`).
   * @default 'test'
   */
  projectId?: string
  /**
   * The port to listen on (always on 127.0.0.1).
   * @default 0 (a free port chosen by the operating system)
   */
  port?: number
  /**
   * The largest object accepted, in bytes; larger uploads get 413.
   * @default 536870912 (512 MiB)
   */
  maxObjectSize?: number
  /**
   * Buckets to create before resolving.
   * @default []
   */
  buckets?: string[]
}

/** A fault to inject into the next matching requests (see {@link GcsServerHandle.failNext}). */
export interface FaultRule {
  /**
   * Only requests with this method (case-insensitive).
   * @default any method
   */
  method?: string
  /**
   * Only requests whose target (path and query, as sent or percent-decoded) contains this text,
   * e.g. `'uploadType=multipart'`, `'upload_id='`, `'/o/dir%2Fa.txt'`.
   * @default any path
   */
  pathIncludes?: string
  /**
   * The HTTP status to answer with (Google error JSON body). Ignored when `reset` is true.
   * @default 503
   */
  status?: number
  /**
   * How many matching requests to fail.
   * @default 1
   */
  times?: number
  /**
   * Drop the connection instead of answering (the client sees ECONNRESET).
   * @default false
   */
  reset?: boolean
  /**
   * Also apply a retryable status (408, 429, 5xx) to `alt=media` downloads. Off by default because
   * @google-cloud/storage 8.4 on Node 24 crashes the process (uncaught ERR_STREAM_UNABLE_TO_PIPE) when it retries a
   * media GET after such a status; `reset: true` faults are safe there and always apply.
   * @default false
   */
  includeMediaDownloads?: boolean
}

/** The live state of one injected fault. */
export interface Fault {
  /** How many requests this fault has answered so far. */
  readonly hits: number
  /** How many more matching requests it will fail. */
  readonly remaining: number
}

/** One answered request, as recorded by {@link GcsServerHandle.requests}. */
export interface LoggedRequest {
  /** The HTTP method. */
  readonly method: string
  /** The request target as sent: path and query. */
  readonly target: string
  /** The status answered (0 when the connection was dropped by a `reset` fault). */
  readonly status: number
  /** The request's `Content-Range` header, if any (resumable uploads). */
  readonly contentRange: string | undefined
}

/** A running GCS JSON-API test server. */
export interface GcsServerHandle {
  /** `http://127.0.0.1:PORT`, for `new Storage({ apiEndpoint, projectId })` (or STORAGE_EMULATOR_HOST). */
  readonly apiEndpoint: string
  /** The project id to pass to the SDK. */
  readonly projectId: string
  /**
   * Fails the next matching requests, after reading their body, with a status or a dropped connection.
   * Faults are checked in the order they were added; each request consumes at most one.
   *
   * SDK caveats (@google-cloud/storage 8.4): uploads are retried only with a precondition (`ifGenerationMatch`);
   * after a `save(..., { resumable: false })` without one, that `Storage` instance never retries again, so use a
   * fresh `Storage` for retry tests. See {@link FaultRule.includeMediaDownloads} for the media GET crash.
   */
  failNext(rule?: FaultRule): Fault
  /** Removes every pending fault. */
  clearFaults(): void
  /** The last 1000 requests, oldest first (a copy). */
  requests(): LoggedRequest[]
  /**
   * Flips the first stored byte of an object (or stores one byte for an empty object) without touching its
   * `crc32c`, `md5Hash` or `size`, so a validating client must reject the download.
   * @throws Error when the bucket or object does not exist
   */
  corruptObject(bucket: string, name: string): void
  /** Deletes an object behind the client's back. Returns whether it existed. */
  deleteObject(bucket: string, name: string): boolean
  /** The stored bytes of an object (a copy), or `undefined` when it does not exist. */
  readObject(bucket: string, name: string): Buffer | undefined
  /** Closes the server, drops every connection and all stored data. Safe to call twice. */
  stop(): Promise<void>
}

/** Object resource fields a client may set on upload and PATCH, stored as strings. */
const WRITABLE_FIELDS = [
  'cacheControl',
  'contentDisposition',
  'contentEncoding',
  'contentLanguage',
  'customTime',
  'storageClass',
] as const
type WritableField = (typeof WRITABLE_FIELDS)[number]

interface StoredObject {
  bucket: string
  name: string
  generation: string
  metageneration: number
  contentType: string
  fields: Partial<Record<WritableField, string>>
  metadata: Record<string, string>
  data: ChunkedBytes
  size: number
  crc32c: string
  md5Hash: string
  timeCreated: string
  updated: string
}

interface Bucket {
  name: string
  timeCreated: string
  location: string
  storageClass: string
  labels: Record<string, string> | undefined
  objects: Map<string, StoredObject>
}

/** What an upload carries besides its bytes. */
interface UploadMetadata {
  contentType: string | undefined
  fields: Partial<Record<WritableField, string>>
  metadata: Record<string, string>
  crc32c: string | undefined
  md5Hash: string | undefined
}

interface Preconditions {
  ifGenerationMatch?: bigint
  ifGenerationNotMatch?: bigint
  ifMetagenerationMatch?: bigint
  ifMetagenerationNotMatch?: bigint
}

interface UploadSession {
  id: string
  bucket: string
  name: string
  upload: UploadMetadata
  preconditions: Preconditions
  total: number | undefined
  data: ChunkedBytes
  result: Record<string, unknown> | undefined
}

interface ActiveFault {
  rule: FaultRule
  hits: number
  remaining: number
}

const MAX_JSON_BYTES = 1024 * 1024
const DEFAULT_MAX_OBJECT_SIZE = 512 * 1024 * 1024
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504])

/**
 * Starts the GCS JSON-API test server on 127.0.0.1, with in-memory storage.
 *
 * Implemented: bucket insert/get/list/delete; media, multipart and resumable uploads (single streamed PUT, chunked
 * PUTs with 308 + Range, status queries); object get/patch/delete; `alt=media` downloads with Range; listing with
 * prefix, delimiter, startOffset, endOffset, includeTrailingDelimiter, maxResults and opaque page tokens;
 * `ifGenerationMatch`, `ifGenerationNotMatch`, `ifMetagenerationMatch`, `ifMetagenerationNotMatch`; crc32c and md5Hash.
 * Anything else under `/b/...` answers 501; see the package README for the full list.
 *
 * @param options - project id, port, size limit and buckets to create
 * @returns the running server's handle
 * @throws Error when the server cannot listen, or a bucket name in `options.buckets` is invalid
 */
export async function startGcsServer(options: GcsServerOptions = {}): Promise<GcsServerHandle> {
  const projectId = options.projectId ?? 'test'
  const maxObjectSize = options.maxObjectSize ?? DEFAULT_MAX_OBJECT_SIZE
  const buckets = new Map<string, Bucket>()
  const sessions = new Map<string, UploadSession>()
  const faults: ActiveFault[] = []
  const log: LoggedRequest[] = []
  let lastGeneration = 0n
  let apiEndpoint = ''

  const nextGeneration = (): string => {
    const now = BigInt(Date.now()) * 1000n
    lastGeneration = now > lastGeneration ? now : lastGeneration + 1n
    return lastGeneration.toString()
  }

  // ---- resources -------------------------------------------------------------------------------------------------

  const baseUrl = (req: IncomingMessage): string =>
    req.headers.host ? `http://${req.headers.host}` : apiEndpoint

  const bucketResource = (bucket: Bucket, base: string): Record<string, unknown> => ({
    kind: 'storage#bucket',
    id: bucket.name,
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(bucket.name)}`,
    projectNumber: '0',
    name: bucket.name,
    timeCreated: bucket.timeCreated,
    updated: bucket.timeCreated,
    metageneration: '1',
    location: bucket.location,
    locationType: 'region',
    storageClass: bucket.storageClass,
    etag: 'CAE=',
    ...(bucket.labels ? { labels: bucket.labels } : {}),
  })

  const objectResource = (object: StoredObject, base: string): Record<string, unknown> => {
    const path = `b/${encodeURIComponent(object.bucket)}/o/${encodeURIComponent(object.name)}`
    return {
      kind: 'storage#object',
      id: `${object.bucket}/${object.name}/${object.generation}`,
      selfLink: `${base}/storage/v1/${path}`,
      mediaLink: `${base}/download/storage/v1/${path}?generation=${object.generation}&alt=media`,
      name: object.name,
      bucket: object.bucket,
      generation: object.generation,
      metageneration: String(object.metageneration),
      contentType: object.contentType,
      storageClass: 'STANDARD',
      size: String(object.size),
      md5Hash: object.md5Hash,
      crc32c: object.crc32c,
      etag: etag(object),
      timeCreated: object.timeCreated,
      updated: object.updated,
      timeStorageClassUpdated: object.timeCreated,
      ...object.fields,
      ...(Object.keys(object.metadata).length > 0 ? { metadata: object.metadata } : {}),
    }
  }

  // ---- lookups ---------------------------------------------------------------------------------------------------

  const getBucket = (name: string): Bucket => {
    const bucket = buckets.get(name)
    if (!bucket) throw new GcsError(404, 'notFound', 'The specified bucket does not exist.')
    return bucket
  }

  /** The live object, checking the optional `generation` parameter (only the live generation is kept). */
  const getObject = (bucket: Bucket, name: string, query: URLSearchParams): StoredObject => {
    const object = bucket.objects.get(name)
    const generation = query.get('generation')
    if (!object || (generation !== null && generation !== object.generation)) {
      throw new GcsError(404, 'notFound', `No such object: ${bucket.name}/${name}`)
    }
    return object
  }

  const createBucket = (body: Record<string, unknown>, query: URLSearchParams): Bucket => {
    if (!query.get('project')) throw new GcsError(400, 'required', 'Required parameter: project')
    const name = body.name
    if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(name) || name.length > 222) {
      throw new GcsError(400, 'invalid', `Invalid bucket name: '${String(name)}'`)
    }
    if (buckets.has(name)) {
      throw new GcsError(
        409,
        'conflict',
        'Your previous request to create the named bucket succeeded and you already own it.',
      )
    }
    const bucket: Bucket = {
      name,
      timeCreated: new Date().toISOString(),
      location: typeof body.location === 'string' ? body.location.toUpperCase() : 'US-CENTRAL1',
      storageClass: typeof body.storageClass === 'string' ? body.storageClass : 'STANDARD',
      labels: isStringRecord(body.labels) ? body.labels : undefined,
      objects: new Map(),
    }
    buckets.set(name, bucket)
    return bucket
  }

  /** Checks preconditions against the live object (or its absence); `read` requests answer 304 for NotMatch. */
  const checkPreconditions = (
    conditions: Preconditions,
    object: StoredObject | undefined,
    read = false,
  ): void => {
    const generation = object ? BigInt(object.generation) : 0n
    const failed = (): GcsError =>
      new GcsError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.')
    if (conditions.ifGenerationMatch !== undefined && generation !== conditions.ifGenerationMatch)
      throw failed()
    if (conditions.ifMetagenerationMatch !== undefined) {
      if (!object || BigInt(object.metageneration) !== conditions.ifMetagenerationMatch) throw failed()
    }
    const notModified = (): GcsError => (read ? new GcsError(304, 'notModified', 'Not Modified') : failed())
    if (conditions.ifGenerationNotMatch !== undefined && generation === conditions.ifGenerationNotMatch) {
      throw notModified()
    }
    if (
      conditions.ifMetagenerationNotMatch !== undefined &&
      object &&
      BigInt(object.metageneration) === conditions.ifMetagenerationNotMatch
    ) {
      throw notModified()
    }
  }

  /** Stores a finished upload as the new live generation, after its preconditions and declared hashes hold. */
  const commitObject = (
    bucket: Bucket,
    name: string,
    data: ChunkedBytes,
    upload: UploadMetadata,
    conditions: Preconditions,
  ): StoredObject => {
    checkPreconditions(conditions, bucket.objects.get(name))
    const { crc32c, md5Hash } = data.hashes()
    if (upload.crc32c !== undefined && upload.crc32c !== crc32c) {
      throw new GcsError(
        400,
        'invalid',
        `Provided CRC32C "${upload.crc32c}" doesn't match calculated "${crc32c}".`,
      )
    }
    if (upload.md5Hash !== undefined && upload.md5Hash !== md5Hash) {
      throw new GcsError(
        400,
        'invalid',
        `Provided MD5 hash "${upload.md5Hash}" doesn't match calculated "${md5Hash}".`,
      )
    }
    const now = new Date().toISOString()
    const object: StoredObject = {
      bucket: bucket.name,
      name,
      generation: nextGeneration(),
      metageneration: 1,
      contentType: upload.contentType || 'application/octet-stream',
      fields: upload.fields,
      metadata: upload.metadata,
      data,
      size: data.length,
      crc32c,
      md5Hash,
      timeCreated: now,
      updated: now,
    }
    bucket.objects.set(name, object)
    return object
  }

  // ---- handlers --------------------------------------------------------------------------------------------------

  const handleBuckets = async (
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
  ): Promise<void> => {
    if (req.method === 'POST') {
      const bucket = createBucket(await readJson(req), query)
      sendJson(res, 200, bucketResource(bucket, baseUrl(req)))
    } else if (req.method === 'GET' || req.method === 'HEAD') {
      if (!query.get('project')) throw new GcsError(400, 'required', 'Required parameter: project')
      const page = listPage(buckets.keys(), { ...parseListRequest(query), delimiter: undefined })
      const base = baseUrl(req)
      sendJson(res, 200, {
        kind: 'storage#buckets',
        ...(page.names.length > 0
          ? { items: page.names.map((name) => bucketResource(getBucket(name), base)) }
          : {}),
        ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
      })
    } else throw methodNotAllowed(req)
  }

  const handleBucket = (req: IncomingMessage, res: ServerResponse, bucketName: string): void => {
    const bucket = getBucket(bucketName)
    if (req.method === 'GET' || req.method === 'HEAD') {
      sendJson(res, 200, bucketResource(bucket, baseUrl(req)))
    } else if (req.method === 'DELETE') {
      if (bucket.objects.size > 0)
        throw new GcsError(409, 'conflict', 'The bucket you tried to delete is not empty.')
      buckets.delete(bucketName)
      sendEmpty(res, 204)
    } else throw notImplemented(req)
  }

  const handleListObjects = (
    req: IncomingMessage,
    res: ServerResponse,
    bucket: Bucket,
    query: URLSearchParams,
  ) => {
    if (query.get('matchGlob') !== null) throw notImplemented(req, 'matchGlob')
    const page = listPage(bucket.objects.keys(), parseListRequest(query))
    const base = baseUrl(req)
    sendJson(res, 200, {
      kind: 'storage#objects',
      ...(page.names.length > 0
        ? { items: page.names.map((name) => objectResource(bucket.objects.get(name)!, base)) }
        : {}),
      ...(page.prefixes.length > 0 ? { prefixes: page.prefixes } : {}),
      ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    })
  }

  const handleObject = async (
    req: IncomingMessage,
    res: ServerResponse,
    bucket: Bucket,
    name: string,
    query: URLSearchParams,
  ): Promise<void> => {
    const conditions = parsePreconditions(query)
    if (req.method === 'GET' || req.method === 'HEAD') {
      const object = getObject(bucket, name, query)
      checkPreconditions(conditions, object, true)
      if (query.get('alt') === 'media') await download(req, res, object)
      else sendJson(res, 200, objectResource(object, baseUrl(req)))
    } else if (req.method === 'PATCH') {
      const patch = await readJson(req)
      const object = getObject(bucket, name, query)
      checkPreconditions(conditions, object)
      applyPatch(object, patch)
      object.metageneration++
      object.updated = new Date().toISOString()
      sendJson(res, 200, objectResource(object, baseUrl(req)))
    } else if (req.method === 'DELETE') {
      const object = getObject(bucket, name, query)
      checkPreconditions(conditions, object)
      bucket.objects.delete(name)
      sendEmpty(res, 204)
    } else throw notImplemented(req)
  }

  const handleUpload = async (
    req: IncomingMessage,
    res: ServerResponse,
    bucket: Bucket,
    query: URLSearchParams,
  ): Promise<void> => {
    const uploadId = query.get('upload_id')
    if (uploadId !== null) return handleResumableRequest(req, res, bucket, uploadId)
    if (req.method !== 'POST') throw methodNotAllowed(req)
    const uploadType = query.get('uploadType')
    const conditions = parsePreconditions(query)
    if (uploadType === 'resumable') {
      const json = await readJson(req)
      const name = objectName(query.get('name') ?? json.name)
      checkPreconditions(conditions, bucket.objects.get(name))
      const declared = req.headers['x-upload-content-length']
      const total = typeof declared === 'string' && /^\d+$/.test(declared) ? Number(declared) : undefined
      if (total !== undefined && total > maxObjectSize) throw tooLarge(maxObjectSize)
      const headerType = req.headers['x-upload-content-type']
      const upload = uploadMetadata(json, typeof headerType === 'string' ? headerType : undefined)
      const id = randomBytes(16).toString('hex')
      sessions.set(id, {
        id,
        bucket: bucket.name,
        name,
        upload,
        preconditions: conditions,
        total,
        data: new ChunkedBytes(),
        result: undefined,
      })
      const location =
        `${baseUrl(req)}/upload/storage/v1/b/${encodeURIComponent(bucket.name)}/o?uploadType=resumable` +
        `&name=${encodeURIComponent(name)}&upload_id=${id}`
      sendEmpty(res, 200, { Location: location, 'X-GUploader-UploadID': id })
    } else if (uploadType === 'multipart') {
      const body = await readBody(req, maxObjectSize + MAX_JSON_BYTES)
      const parts = parseMultipartRelated(body, req.headers['content-type'] ?? '')
      const json = parseJsonObject(parts.metadataJson)
      const name = objectName(query.get('name') ?? json.name)
      if (parts.media.length > maxObjectSize) throw tooLarge(maxObjectSize)
      const object = commitObject(
        bucket,
        name,
        parts.media,
        uploadMetadata(json, parts.mediaType),
        conditions,
      )
      sendJson(res, 200, objectResource(object, baseUrl(req)))
    } else if (uploadType === 'media') {
      const body = await readBody(req, maxObjectSize)
      const name = objectName(query.get('name'))
      const fields = query.get('contentEncoding') ? { contentEncoding: query.get('contentEncoding')! } : {}
      const upload = { ...uploadMetadata({}, req.headers['content-type']), fields }
      const object = commitObject(bucket, name, body, upload, conditions)
      sendJson(res, 200, objectResource(object, baseUrl(req)))
    } else {
      throw new GcsError(
        400,
        'invalid',
        `Unsupported uploadType: ${uploadType} (use media, multipart or resumable).`,
      )
    }
  }

  /** A PUT (or POST) to a resumable session URL: a chunk, the rest of the object, or a status query. */
  const handleResumableRequest = async (
    req: IncomingMessage,
    res: ServerResponse,
    bucket: Bucket,
    uploadId: string,
  ): Promise<void> => {
    const session = sessions.get(uploadId)
    if (!session || session.bucket !== bucket.name) {
      throw new GcsError(404, 'notFound', `No such upload session: ${uploadId}`)
    }
    if (req.method === 'DELETE') {
      sessions.delete(uploadId)
      sendEmpty(res, 499)
      return
    }
    if (req.method !== 'PUT' && req.method !== 'POST') throw methodNotAllowed(req)
    const body = await readBody(req, maxObjectSize)
    if (session.result) {
      sendJson(res, 200, session.result)
      return
    }
    const range = parseContentRange(req.headers['content-range'])
    // validate everything first: a refused request must not change the session
    const total = range.total ?? session.total
    if (range.total !== undefined && session.total !== undefined && session.total !== range.total) {
      throw new GcsError(400, 'invalid', `Content-Range total ${range.total} differs from ${session.total}.`)
    }
    let persisted = session.data.length
    let fresh = body.slice(0, 0)
    if (range.start === undefined) {
      if (body.length > 0) {
        throw new GcsError(400, 'invalid', 'A status query (bytes */...) must have no body.')
      }
    } else {
      if (range.end !== undefined && body.length !== range.end - range.start + 1) {
        throw new GcsError(
          400,
          'invalid',
          `Content-Range announces ${range.end - range.start + 1} bytes but the body has ${body.length}.`,
        )
      }
      if (range.start > persisted) {
        throw new GcsError(
          400,
          'invalid',
          `Content-Range starts at ${range.start} but only ${persisted} bytes are persisted; query with bytes */*.`,
        )
      }
      fresh = body.slice(Math.min(persisted - range.start, body.length))
      persisted += fresh.length
    }
    if (persisted > maxObjectSize || (total ?? 0) > maxObjectSize) throw tooLarge(maxObjectSize)
    if (total !== undefined && persisted > total) {
      throw new GcsError(400, 'invalid', `Received ${persisted} bytes, more than the declared ${total}.`)
    }
    session.total = total
    for (const chunk of fresh.chunks) session.data.push(chunk)
    const complete =
      total !== undefined ? persisted === total : range.start !== undefined && range.end === undefined
    if (!complete) {
      sendEmpty(res, 308, persisted > 0 ? { Range: `bytes=0-${persisted - 1}` } : {})
      return
    }
    try {
      const object = commitObject(bucket, session.name, session.data, session.upload, session.preconditions)
      session.result = objectResource(object, baseUrl(req))
      sendJson(res, 200, session.result)
    } catch (error) {
      sessions.delete(uploadId)
      throw error
    }
  }

  // ---- routing ---------------------------------------------------------------------------------------------------

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/'
    const queryAt = target.indexOf('?')
    const query = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1))
    // split before decoding: object names arrive percent-encoded, so a literal '/' only separates segments
    let segments = (queryAt < 0 ? target : target.slice(0, queryAt)).split('/').slice(1)
    if (segments.at(-1) === '' && segments.length > 1) segments = segments.slice(0, -1)
    let upload = false
    if (segments[0] === 'upload' || segments[0] === 'download') {
      upload = segments[0] === 'upload'
      segments = segments.slice(1)
    }
    if (segments[0] === 'storage' && segments[1] === 'v1') segments = segments.slice(2)
    const decoded = segments.map(decodeSegment)

    const fault = takeFault(req, target, query)
    if (fault) {
      await readBody(req, Number.POSITIVE_INFINITY).catch(() => undefined)
      if (fault.reset) req.socket.destroy()
      else throw injectedError(fault.status ?? 503)
      return
    }

    if (decoded[0] !== 'b')
      throw new GcsError(404, 'notFound', `Not Found: ${req.method} ${target.split('?')[0]}`)
    if (decoded.length === 1) return handleBuckets(req, res, query)
    const bucketName = decoded[1]!
    if (decoded.length === 2) return handleBucket(req, res, bucketName)
    if (decoded[2] !== 'o' || decoded.length > 4) throw notImplemented(req)
    const bucket = getBucket(bucketName)
    if (upload) {
      if (decoded.length !== 3) throw notImplemented(req)
      return handleUpload(req, res, bucket, query)
    }
    if (decoded.length === 3) {
      if (req.method === 'GET' || req.method === 'HEAD') return handleListObjects(req, res, bucket, query)
      if (req.method === 'POST') {
        throw new GcsError(
          400,
          'invalid',
          'Object uploads go to /upload/storage/v1/b/BUCKET/o?uploadType=...',
        )
      }
      throw methodNotAllowed(req)
    }
    return handleObject(req, res, bucket, objectName(decoded[3]), query)
  }

  const takeFault = (req: IncomingMessage, target: string, query: URLSearchParams): FaultRule | undefined => {
    const mediaGet = req.method === 'GET' && query.get('alt') === 'media'
    let decodedTarget = target
    try {
      decodedTarget = decodeURIComponent(target)
    } catch {}
    for (const fault of faults) {
      const { rule } = fault
      if (fault.remaining === 0) continue
      if (rule.method !== undefined && rule.method.toUpperCase() !== req.method) continue
      if (
        rule.pathIncludes !== undefined &&
        !target.includes(rule.pathIncludes) &&
        !decodedTarget.includes(rule.pathIncludes)
      ) {
        continue
      }
      if (mediaGet && !rule.reset && !rule.includeMediaDownloads && RETRYABLE.has(rule.status ?? 503))
        continue
      fault.remaining--
      fault.hits++
      return rule
    }
    return undefined
  }

  // ---- server ----------------------------------------------------------------------------------------------------

  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    res.once('close', () => {
      const contentRange = req.headers['content-range']
      log.push({
        method: req.method ?? '',
        target: req.url ?? '',
        status: res.headersSent ? res.statusCode : 0,
        contentRange,
      })
      if (log.length > 1000) log.shift()
    })
    route(req, res).catch((error: unknown) => {
      if (error instanceof GcsError) sendError(res, error)
      else sendError(res, new GcsError(500, 'backendError', `Test server error: ${String(error)}`))
    })
  })
  // Keep idle sockets open longer than clients do, so a client never reuses a socket the server is closing (ECONNRESET).
  server.keepAliveTimeout = 120_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  apiEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
      buckets.clear()
      sessions.clear()
      faults.length = 0
    })
    return stopped
  }

  try {
    for (const name of options.buckets ?? [])
      createBucket({ name }, new URLSearchParams({ project: projectId }))
  } catch (error) {
    await stop()
    throw new Error(`Cannot create bucket: ${(error as Error).message}`, { cause: error })
  }

  const storedObject = (bucket: string, name: string): StoredObject | undefined =>
    buckets.get(bucket)?.objects.get(name)

  return {
    apiEndpoint,
    projectId,
    failNext(rule = {}) {
      const fault: ActiveFault = { rule: { ...rule }, hits: 0, remaining: rule.times ?? 1 }
      faults.push(fault)
      return {
        get hits() {
          return fault.hits
        },
        get remaining() {
          return fault.remaining
        },
      }
    },
    clearFaults() {
      faults.length = 0
    },
    requests() {
      return [...log]
    },
    corruptObject(bucket, name) {
      const object = storedObject(bucket, name)
      if (!object) throw new Error(`corruptObject: no object ${bucket}/${name}`)
      const bytes = object.data.length === 0 ? Buffer.from([0x78]) : object.data.copy()
      if (object.data.length > 0) bytes[0] = bytes[0]! ^ 0xff
      object.data = new ChunkedBytes([bytes])
    },
    deleteObject(bucket, name) {
      return buckets.get(bucket)?.objects.delete(name) ?? false
    },
    readObject(bucket, name) {
      return storedObject(bucket, name)?.data.copy()
    },
    stop,
  }

  // ---- request helpers (closures over maxObjectSize) ---------------------------------------------------------------

  async function download(req: IncomingMessage, res: ServerResponse, object: StoredObject): Promise<void> {
    const size = object.data.length
    const storedEncoding = object.fields.contentEncoding ?? 'identity'
    const headers: Record<string, string> = {
      'Content-Type': object.contentType,
      'X-Goog-Hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
      'X-Goog-Stored-Content-Encoding': storedEncoding,
      'X-Goog-Stored-Content-Length': String(object.size),
      'X-Goog-Generation': object.generation,
      'X-Goog-Metageneration': String(object.metageneration),
      'X-Goog-Storage-Class': 'STANDARD',
      ETag: etag(object),
      'Last-Modified': new Date(object.updated).toUTCString(),
      'Accept-Ranges': 'bytes',
    }
    for (const [field, header] of [
      ['cacheControl', 'Cache-Control'],
      ['contentDisposition', 'Content-Disposition'],
      ['contentLanguage', 'Content-Language'],
    ] as const) {
      const value = object.fields[field]
      if (value !== undefined) headers[header] = value
    }
    const acceptsGzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''))
    if (storedEncoding === 'gzip' && !acceptsGzip) {
      // decompressive transcoding: the whole object, gunzipped; Range does not apply
      res.writeHead(200, headers)
      await pipeline(Readable.from(object.data.range()), createGunzip(), res).catch(() => res.destroy())
      return
    }
    if (storedEncoding !== 'identity') headers['Content-Encoding'] = storedEncoding
    const range = parseRange(req.headers.range, size)
    if (range === 'unsatisfiable') {
      throw new GcsError(416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.', {
        'Content-Range': `bytes */${size}`,
      })
    }
    const [start, end] = range ?? [0, size]
    headers['Content-Length'] = String(end - start)
    if (range) headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`
    res.writeHead(range ? 206 : 200, headers)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    await pipeline(Readable.from(object.data.range(start, end)), res).catch(() => res.destroy())
  }

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const body = await readBody(req, MAX_JSON_BYTES)
    return body.length === 0 ? {} : parseJsonObject(body.copy().toString('utf8'))
  }
}

// ---- pure helpers ------------------------------------------------------------------------------------------------

function etag(object: StoredObject): string {
  return Buffer.from(`${object.generation}/${object.metageneration}`).toString('base64')
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === 'string')
  )
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new GcsError(400, 'parseError', 'The request body is not valid JSON.')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GcsError(400, 'invalid', 'The request body must be a JSON object.')
  }
  return value as Record<string, unknown>
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new GcsError(400, 'invalid', `Invalid percent-encoding in path segment: ${segment}`)
  }
}

/** Validates an object name as GCS does: 1 to 1024 UTF-8 bytes, no CR or LF, not `.` or `..`. */
function objectName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new GcsError(400, 'required', 'Required parameter: name')
  if (Buffer.byteLength(value) > 1024 || /[\r\n]/.test(value) || value === '.' || value === '..') {
    throw new GcsError(400, 'invalid', `Invalid object name: ${JSON.stringify(value)}`)
  }
  return value
}

/** Custom metadata: values become strings, nulls are dropped. */
function metadataValues(value: unknown): Record<string, string> {
  const metadata: Record<string, string> = {}
  if (typeof value !== 'object' || value === null) return metadata
  for (const [key, entry] of Object.entries(value)) {
    if (entry !== null && entry !== undefined) metadata[key] = String(entry)
  }
  return metadata
}

function uploadMetadata(
  json: Record<string, unknown>,
  fallbackContentType: string | undefined,
): UploadMetadata {
  const fields: Partial<Record<WritableField, string>> = {}
  for (const field of WRITABLE_FIELDS) {
    const value = json[field]
    if (typeof value === 'string') fields[field] = value
  }
  return {
    contentType: typeof json.contentType === 'string' ? json.contentType : fallbackContentType,
    fields,
    metadata: metadataValues(json.metadata),
    crc32c: typeof json.crc32c === 'string' ? json.crc32c : undefined,
    md5Hash: typeof json.md5Hash === 'string' ? json.md5Hash : undefined,
  }
}

/** PATCH semantics: listed fields are replaced (null clears), `metadata` is merged (null values delete keys). */
function applyPatch(object: StoredObject, patch: Record<string, unknown>): void {
  if ('contentType' in patch) {
    object.contentType =
      typeof patch.contentType === 'string' ? patch.contentType : 'application/octet-stream'
  }
  for (const field of WRITABLE_FIELDS) {
    if (!(field in patch)) continue
    const value = patch[field]
    if (value === null) delete object.fields[field]
    else if (typeof value === 'string') object.fields[field] = value
    else throw new GcsError(400, 'invalid', `Invalid value for ${field}: expected a string or null.`)
  }
  if ('metadata' in patch) {
    const metadata = patch.metadata
    if (metadata === null) object.metadata = {}
    else if (typeof metadata === 'object' && !Array.isArray(metadata)) {
      const merged = { ...object.metadata }
      for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
        if (value === null) delete merged[key]
        else merged[key] = String(value)
      }
      object.metadata = merged
    } else throw new GcsError(400, 'invalid', 'Invalid value for metadata: expected an object or null.')
  }
}

function parsePreconditions(query: URLSearchParams): Preconditions {
  const conditions: Preconditions = {}
  for (const key of [
    'ifGenerationMatch',
    'ifGenerationNotMatch',
    'ifMetagenerationMatch',
    'ifMetagenerationNotMatch',
  ] as const) {
    const value = query.get(key)
    if (value === null) continue
    if (!/^\d+$/.test(value)) throw new GcsError(400, 'invalid', `Invalid value for ${key}: ${value}`)
    conditions[key] = BigInt(value)
  }
  return conditions
}

/**
 * Parses a resumable `Content-Range`: `bytes S-E/T`, `S-E/*`, `S-* /*`, `S-* /T`, `* /*`, `* /T` (without the spaces).
 * A missing header means "the whole object in this request" (`bytes 0-* /*`).
 */
function parseContentRange(header: string | undefined): { start?: number; end?: number; total?: number } {
  if (header === undefined) return { start: 0 }
  const match = /^bytes\s+(?:\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(header.trim())
  if (!match) throw new GcsError(400, 'invalid', `Invalid Content-Range: ${header}`)
  const [, start, end, total] = match
  const range = {
    ...(start === undefined ? {} : { start: Number(start) }),
    ...(end === undefined || end === '*' ? {} : { end: Number(end) }),
    ...(total === '*' ? {} : { total: Number(total) }),
  }
  if (range.end !== undefined && range.end < range.start!) {
    throw new GcsError(400, 'invalid', `Invalid Content-Range: ${header}`)
  }
  return range
}

/**
 * Parses a single-range `Range: bytes=a-b | a- | -n` into `[start, endExclusive]`. Returns `undefined` to serve the
 * whole object (no header, or a form this server ignores, like multiple ranges) and `'unsatisfiable'` for 416.
 */
function parseRange(
  header: string | undefined,
  size: number,
): [number, number] | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') {
    const suffix = Number(match[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return [Math.max(0, size - suffix), size]
  }
  const start = Number(match[1])
  if (match[2] !== '' && Number(match[2]) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  const last = match[2] === '' ? size - 1 : Number(match[2])
  return [start, Math.min(last, size - 1) + 1]
}

/** The error a `failNext` fault answers with, with the reason GCS gives for that status. */
function injectedError(status: number): GcsError {
  const reasons: Record<number, string> = {
    401: 'required',
    403: 'forbidden',
    404: 'notFound',
    408: 'requestTimeout',
    409: 'conflict',
    412: 'conditionNotMet',
    429: 'rateLimitExceeded',
  }
  const reason = reasons[status] ?? (status >= 500 ? 'backendError' : 'invalid')
  return new GcsError(status, reason, `Injected fault (test server failNext): HTTP ${status}.`)
}

function methodNotAllowed(req: IncomingMessage): GcsError {
  return new GcsError(
    405,
    'methodNotAllowed',
    `Method ${req.method} is not allowed on ${req.url?.split('?')[0]}`,
  )
}

function notImplemented(req: IncomingMessage, what = `${req.method} ${req.url?.split('?')[0]}`): GcsError {
  return new GcsError(
    501,
    'notImplemented',
    `${what} is not implemented by the xcom GCS test server (see @xcom/test-services README).`,
  )
}

function tooLarge(limit: number): GcsError {
  return new GcsError(413, 'uploadTooLarge', `The object exceeds this test server's limit of ${limit} bytes.`)
}
