import { readBody } from './bytes.ts'
import type { RequestContext } from './context.ts'
import { GcsError, methodNotAllowed, objectTooLarge, sendJson } from './http.ts'
import { parseMultipartRelated } from './multipart.ts'
import { MAX_JSON_BYTES, objectName, parseJsonObject, uploadMetadata } from './params.ts'
import { type Preconditions, parsePreconditions } from './preconditions.ts'
import { objectResource } from './resources.ts'
import { handleSessionRequest, startResumableUpload } from './resumable.ts'
import type { Bucket } from './state.ts'

/**
 * `/upload/storage/v1/b/BUCKET/o`: a POST with `uploadType` media, multipart or resumable (init), or a request to a
 * resumable session URL (`upload_id=`).
 * @throws GcsError 400 on a malformed upload, 404, 405, 412, 413
 */
export async function handleUpload(ctx: RequestContext, bucket: Bucket): Promise<void> {
  const { req, query } = ctx
  const uploadId = query.get('upload_id')
  if (uploadId !== null) return handleSessionRequest(ctx, bucket, uploadId)
  if (req.method !== 'POST') throw methodNotAllowed(req)
  const uploadType = query.get('uploadType')
  const conditions = parsePreconditions(query)
  if (uploadType === 'resumable') return startResumableUpload(ctx, bucket, conditions)
  if (uploadType === 'multipart') return multipartUpload(ctx, bucket, conditions)
  if (uploadType === 'media') return mediaUpload(ctx, bucket, conditions)
  throw new GcsError(
    400,
    'invalid',
    `Unsupported uploadType: ${uploadType} (use media, multipart or resumable).`,
  )
}

/** `uploadType=multipart`: one `multipart/related` body, the object resource JSON then the bytes. */
async function multipartUpload(
  ctx: RequestContext,
  bucket: Bucket,
  conditions: Preconditions,
): Promise<void> {
  const { req, query, maxObjectSize } = ctx
  const body = await readBody(req, maxObjectSize + MAX_JSON_BYTES)
  const parts = parseMultipartRelated(body, req.headers['content-type'] ?? '')
  const json = parseJsonObject(parts.metadataJson)
  const name = objectName(query.get('name') ?? json.name)
  if (parts.media.length > maxObjectSize) throw objectTooLarge(maxObjectSize)
  const object = ctx.state.commitObject(
    bucket,
    name,
    parts.media,
    uploadMetadata(json, parts.mediaType),
    conditions,
  )
  sendJson(ctx.res, 200, objectResource(object, ctx.base))
}

/** `uploadType=media`: the body is the bytes; the name and content encoding come from the query. */
async function mediaUpload(ctx: RequestContext, bucket: Bucket, conditions: Preconditions): Promise<void> {
  const { req, query } = ctx
  const body = await readBody(req, ctx.maxObjectSize)
  const name = objectName(query.get('name'))
  const contentEncoding = query.get('contentEncoding')
  const fields = contentEncoding ? { contentEncoding } : {}
  const upload = { ...uploadMetadata({}, req.headers['content-type']), fields }
  const object = ctx.state.commitObject(bucket, name, body, upload, conditions)
  sendJson(ctx.res, 200, objectResource(object, ctx.base))
}
