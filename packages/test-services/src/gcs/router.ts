import type { IncomingMessage, ServerResponse } from 'node:http'
import { handleBucket, handleBuckets } from './buckets.ts'
import type { RequestContext } from './context.ts'
import type { FaultInjector } from './faults.ts'
import { GcsError, methodNotAllowed, notImplemented, sendError } from './http.ts'
import { handleListObjects, handleObject } from './objects.ts'
import { decodeSegment, objectName } from './params.ts'
import type { GcsState } from './state.ts'
import { handleUpload } from './uploads.ts'

/** What the router serves from. */
export interface RouterOptions {
  state: GcsState
  faults: FaultInjector
  maxObjectSize: number
  /** The server's own `http://127.0.0.1:PORT`, for links when a request has no Host header. */
  endpoint(): string
}

/** A request target split into its route. */
interface Route {
  /** Under `/upload/...`. */
  upload: boolean
  /** The decoded path segments after the optional `/upload`, `/download` and `/storage/v1` prefixes. */
  segments: string[]
  query: URLSearchParams
}

/**
 * The request listener: routes `/b`, `/b/BUCKET`, `/b/BUCKET/o` and `/b/BUCKET/o/NAME`, with or without the
 * `/storage/v1` prefix (the SDK drops it when STORAGE_EMULATOR_HOST is set), uploads under `/upload[/storage/v1]` and
 * downloads also under `/download/...`. Every failure is answered as Google error JSON.
 */
export function createRouter(options: RouterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { state, faults, maxObjectSize } = options

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/'
    const { upload, segments, query } = parseTarget(target)
    if (await faults.intercept(req, query)) return
    const base = req.headers.host ? `http://${req.headers.host}` : options.endpoint()
    const ctx: RequestContext = { req, res, query, base, state, maxObjectSize }

    if (segments[0] !== 'b')
      throw new GcsError(404, 'notFound', `Not Found: ${req.method} ${target.split('?')[0]}`)
    if (segments.length === 1) return handleBuckets(ctx)
    const bucketName = segments[1]!
    if (segments.length === 2) return handleBucket(ctx, bucketName)
    if (segments[2] !== 'o' || segments.length > 4) throw notImplemented(req)
    const bucket = state.bucket(bucketName)
    if (upload) {
      if (segments.length !== 3) throw notImplemented(req)
      return handleUpload(ctx, bucket)
    }
    if (segments.length === 4) return handleObject(ctx, bucket, objectName(segments[3]))
    if (req.method === 'GET' || req.method === 'HEAD') return handleListObjects(ctx, bucket)
    if (req.method === 'POST') {
      throw new GcsError(400, 'invalid', 'Object uploads go to /upload/storage/v1/b/BUCKET/o?uploadType=...')
    }
    throw methodNotAllowed(req)
  }

  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof GcsError) sendError(res, error)
      else sendError(res, new GcsError(500, 'backendError', `Test server error: ${String(error)}`))
    })
  }
}

/** @throws GcsError 400 on a malformed percent-escape in the path */
function parseTarget(target: string): Route {
  const queryAt = target.indexOf('?')
  const query = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1))
  // split before decoding: object names arrive percent-encoded, so a literal '/' only separates segments
  let segments = (queryAt < 0 ? target : target.slice(0, queryAt)).split('/').slice(1)
  if (segments.at(-1) === '' && segments.length > 1) segments = segments.slice(0, -1)
  const upload = segments[0] === 'upload'
  if (upload || segments[0] === 'download') segments = segments.slice(1)
  if (segments[0] === 'storage' && segments[1] === 'v1') segments = segments.slice(2)
  return { upload, segments: segments.map(decodeSegment), query }
}
