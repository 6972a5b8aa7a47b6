import { type ChunkedBytes, readBody } from './bytes.ts'
import type { RequestContext } from './context.ts'
import { GcsError, methodNotAllowed, objectTooLarge, sendEmpty, sendJson } from './http.ts'
import { type ContentRange, objectName, parseContentRange, readJson, uploadMetadata } from './params.ts'
import { checkPreconditions, type Preconditions } from './preconditions.ts'
import { objectResource } from './resources.ts'
import type { Bucket, UploadSession } from './state.ts'

/**
 * `uploadType=resumable` init: opens a session and answers its absolute URL in `Location` (the SDK refuses a relative
 * one). Preconditions are checked now, so a create-only upload fails before any bytes are sent, and again at commit.
 * @throws GcsError 400 without a valid name, 412, 413 when `X-Upload-Content-Length` is over the limit
 */
export async function startResumableUpload(
  ctx: RequestContext,
  bucket: Bucket,
  conditions: Preconditions,
): Promise<void> {
  const { req, query, maxObjectSize } = ctx
  const json = await readJson(req)
  const name = objectName(query.get('name') ?? json.name)
  checkPreconditions(conditions, bucket.objects.get(name))
  const declared = req.headers['x-upload-content-length']
  const total = typeof declared === 'string' && /^\d+$/.test(declared) ? Number(declared) : undefined
  if (total !== undefined && total > maxObjectSize) throw objectTooLarge(maxObjectSize)
  const headerType = req.headers['x-upload-content-type']
  const upload = uploadMetadata(json, typeof headerType === 'string' ? headerType : undefined)
  const { id } = ctx.state.openSession(bucket, name, upload, conditions, total)
  const location =
    `${ctx.base}/upload/storage/v1/b/${encodeURIComponent(bucket.name)}/o?uploadType=resumable` +
    `&name=${encodeURIComponent(name)}&upload_id=${id}`
  sendEmpty(ctx.res, 200, { Location: location, 'X-GUploader-UploadID': id })
}

/**
 * A request to a resumable session URL: PUT (or POST) of a chunk, of the rest of the object, or a status query
 * (`bytes * /...`); DELETE cancels. Incomplete uploads get 308 with `Range: bytes=0-LAST` once bytes are persisted,
 * which the SDK needs to resume; the final request commits and answers the object.
 * @throws GcsError 400 on a Content-Range that does not fit the session, 404, 405, 412 or 400 at commit, 413
 */
export async function handleSessionRequest(
  ctx: RequestContext,
  bucket: Bucket,
  uploadId: string,
): Promise<void> {
  const { req, res, state, maxObjectSize } = ctx
  const session = state.session(bucket, uploadId)
  if (req.method === 'DELETE') {
    state.closeSession(uploadId)
    sendEmpty(res, 499) // what GCS answers to a cancelled upload
    return
  }
  if (req.method !== 'PUT' && req.method !== 'POST') throw methodNotAllowed(req)
  const body = await readBody(req, maxObjectSize)
  if (session.result) {
    sendJson(res, 200, session.result)
    return
  }
  const range = parseContentRange(req.headers['content-range'])
  const { total, persisted, fresh } = acceptBytes(session, range, body, maxObjectSize)
  session.total = total
  for (const chunk of fresh.chunks) session.data.push(chunk)
  const complete =
    total !== undefined ? persisted === total : range.start !== undefined && range.end === undefined
  if (!complete) {
    sendEmpty(res, 308, persisted > 0 ? { Range: `bytes=0-${persisted - 1}` } : {})
    return
  }
  try {
    const object = state.commitObject(
      bucket,
      session.name,
      session.data,
      session.upload,
      session.preconditions,
    )
    session.result = objectResource(object, ctx.base)
    sendJson(res, 200, session.result)
  } catch (error) {
    state.closeSession(uploadId)
    throw error
  }
}

/**
 * Works out what a request adds to the session without changing it, so a refused request leaves the session as it
 * was. Bytes the session already holds (a resend after a lost answer) are skipped.
 * @throws GcsError 400 when the range, body and totals disagree, 413 over the limit
 */
function acceptBytes(
  session: UploadSession,
  range: ContentRange,
  body: ChunkedBytes,
  maxObjectSize: number,
): { total: number | undefined; persisted: number; fresh: ChunkedBytes } {
  const total = range.total ?? session.total
  if (range.total !== undefined && session.total !== undefined && session.total !== range.total) {
    throw new GcsError(400, 'invalid', `Content-Range total ${range.total} differs from ${session.total}.`)
  }
  let persisted = session.data.length
  let fresh = body.slice(0, 0)
  if (range.start === undefined) {
    if (body.length > 0) throw new GcsError(400, 'invalid', 'A status query (bytes */...) must have no body.')
  } else {
    const announced = range.end === undefined ? undefined : range.end - range.start + 1
    if (announced !== undefined && body.length !== announced) {
      throw new GcsError(
        400,
        'invalid',
        `Content-Range announces ${announced} bytes but the body has ${body.length}.`,
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
  if (persisted > maxObjectSize || (total ?? 0) > maxObjectSize) throw objectTooLarge(maxObjectSize)
  if (total !== undefined && persisted > total) {
    throw new GcsError(400, 'invalid', `Received ${persisted} bytes, more than the declared ${total}.`)
  }
  return { total, persisted, fresh }
}
