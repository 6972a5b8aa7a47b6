import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import type { RequestContext } from './context.ts'
import { GcsError, notImplemented, sendEmpty, sendJson } from './http.ts'
import { listPage, parseListRequest } from './listing.ts'
import { parseRange, readJson } from './params.ts'
import { checkPreconditions, parsePreconditions } from './preconditions.ts'
import { etag, objectResource } from './resources.ts'
import type { Bucket, StoredObject } from './state.ts'

/** Object fields that GCS also serves as response headers on downloads. */
const HEADER_FIELDS = [
  ['cacheControl', 'Cache-Control'],
  ['contentDisposition', 'Content-Disposition'],
  ['contentLanguage', 'Content-Language'],
] as const

/**
 * `GET /b/BUCKET/o`: one page of the object listing.
 * @throws GcsError 400 on a bad page token or maxResults, 501 for `matchGlob`
 */
export function handleListObjects(ctx: RequestContext, bucket: Bucket): void {
  const { req, res, query } = ctx
  if (query.get('matchGlob') !== null) throw notImplemented(req, 'matchGlob')
  const page = listPage(bucket.objects.keys(), parseListRequest(query))
  sendJson(res, 200, {
    kind: 'storage#objects',
    ...(page.names.length > 0
      ? { items: page.names.map((name) => objectResource(bucket.objects.get(name)!, ctx.base)) }
      : {}),
    ...(page.prefixes.length > 0 ? { prefixes: page.prefixes } : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
  })
}

/**
 * `/b/BUCKET/o/NAME`: get (resource, or bytes with `alt=media`), PATCH and DELETE, each under the request's
 * preconditions.
 * @throws GcsError 404, 412 (304 for a failed NotMatch on reads), 416 for a range past the end, 400, 501
 */
export async function handleObject(ctx: RequestContext, bucket: Bucket, name: string): Promise<void> {
  const { req, res, query, state } = ctx
  const conditions = parsePreconditions(query)
  if (req.method === 'GET' || req.method === 'HEAD') {
    const object = state.object(bucket, name, query.get('generation'))
    checkPreconditions(conditions, object, true)
    if (query.get('alt') === 'media') await download(ctx, object)
    else sendJson(res, 200, objectResource(object, ctx.base))
  } else if (req.method === 'PATCH') {
    const patch = await readJson(req)
    const object = state.object(bucket, name, query.get('generation'))
    checkPreconditions(conditions, object)
    state.patchObject(object, patch)
    sendJson(res, 200, objectResource(object, ctx.base))
  } else if (req.method === 'DELETE') {
    const object = state.object(bucket, name, query.get('generation'))
    checkPreconditions(conditions, object)
    state.deleteObject(bucket.name, name)
    sendEmpty(res, 204)
  } else throw notImplemented(req)
}

/**
 * Serves an object's bytes with the headers the SDK validates: one `X-Goog-Hash` (crc32c first, no spaces, or the SDK
 * misses md5) and `X-Goog-Stored-Content-Encoding`, without which the SDK checks nothing. A single `Range` gets 206.
 */
async function download({ req, res }: RequestContext, object: StoredObject): Promise<void> {
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
  for (const [field, header] of HEADER_FIELDS) {
    const value = object.fields[field]
    if (value !== undefined) headers[header] = value
  }
  const acceptsGzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''))
  if (storedEncoding === 'gzip' && !acceptsGzip) {
    // decompressive transcoding, as GCS does for clients that cannot take gzip: the whole object, so Range is ignored
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
