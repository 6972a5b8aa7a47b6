import type { RequestContext } from './context.ts'
import { GcsError, methodNotAllowed, notImplemented, sendEmpty, sendJson } from './http.ts'
import { listPage, parseListRequest } from './listing.ts'
import { readJson } from './params.ts'
import { bucketResource } from './resources.ts'

/**
 * `/b`: bucket insert (POST) and list (GET). Both require `project`, as GCS does; its value is not checked.
 * @throws GcsError 400 without `project` or on a bad name or page token, 409 for an existing bucket, 405
 */
export async function handleBuckets(ctx: RequestContext): Promise<void> {
  const { req, res, query, state } = ctx
  if (req.method === 'POST') {
    const body = await readJson(req)
    requireProject(query)
    sendJson(res, 200, bucketResource(state.createBucket(body), ctx.base))
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(req)
  requireProject(query)
  // bucket names hold no '/', so a delimiter would roll nothing up
  const page = listPage(state.bucketNames(), { ...parseListRequest(query), delimiter: undefined })
  sendJson(res, 200, {
    kind: 'storage#buckets',
    ...(page.names.length > 0
      ? { items: page.names.map((name) => bucketResource(state.bucket(name), ctx.base)) }
      : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
  })
}

/**
 * `/b/BUCKET`: bucket get and delete (only when empty); PATCH and PUT are not implemented.
 * @throws GcsError 404 for a missing bucket, 409 for a bucket with objects, 501
 */
export function handleBucket(ctx: RequestContext, bucketName: string): void {
  const { req, res, state } = ctx
  const bucket = state.bucket(bucketName)
  if (req.method === 'GET' || req.method === 'HEAD') {
    sendJson(res, 200, bucketResource(bucket, ctx.base))
  } else if (req.method === 'DELETE') {
    state.deleteBucket(bucket)
    sendEmpty(res, 204)
  } else throw notImplemented(req)
}

function requireProject(query: URLSearchParams): void {
  if (!query.get('project')) throw new GcsError(400, 'required', 'Required parameter: project')
}
