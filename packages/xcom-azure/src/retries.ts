import { logRetry } from '@xcom/core/adapter'

/** The parts of @azure/core-rest-pipeline's request, response and policy this uses (any `PipelinePolicy` fits). */
interface RequestLike {
  url: string
  method: string
}
interface ResponseLike {
  status: number
  headers: { get(name: string): string | undefined }
}
/** A pipeline policy, as `StoragePipelineOptions.additionalPolicies` takes it. */
export interface RetryLogPolicy {
  name: string
  sendRequest(
    request: RequestLike,
    next: (request: RequestLike) => Promise<ResponseLike>,
  ): Promise<ResponseLike>
}

/** Where the store's blobs are, to turn a request URL into the object URI of a message. */
export interface BlobScope {
  /** The store's `url`: `<scheme>://[<connectionId>@]<container>[/<prefix>]`. */
  url: string
  container: string
  /** Without leading or trailing `/`. */
  prefix: string
}

/** The storage retry policy's statuses that it retries (and every error without a response). */
const RETRIED_STATUSES = new Set([408, 500, 502, 503, 504])

/**
 * A pipeline policy, for position `perRetry` (it runs once per attempt, inside the SDK's retry policy), that logs
 * every attempt after the first at `info` through the active XCom operation's logger (nothing outside one): the
 * HTTP method and `comp`, the object URI (never the request URL: it may carry a SAS), the attempt, and why the
 * previous attempt failed (status and `x-ms-error-code`, or the error's code).
 */
export function retryLogPolicy(scope: BlobScope): RetryLogPolicy {
  // The retry policy sends the same request object on every attempt.
  const tries = new WeakMap<RequestLike, { attempt: number; reason: string }>()
  return {
    name: 'xcomRetryLog',
    async sendRequest(request, next) {
      const state = tries.get(request) ?? { attempt: 0, reason: 'unknown' }
      tries.set(request, state)
      state.attempt += 1
      if (state.attempt > 1) {
        const uri = uriOf(request.url, scope)
        const comp = new URL(request.url).searchParams.get('comp')
        const operation = comp ? `${request.method} ${comp}` : request.method
        logRetry({ operation, uri, ...state })
      }
      try {
        const response = await next(request)
        if (RETRIED_STATUSES.has(response.status)) {
          const code = response.headers.get('x-ms-error-code')
          state.reason = code ? `${response.status} ${code}` : String(response.status)
        }
        return response
      } catch (error) {
        state.reason = reasonOf(error)
        throw error
      }
    },
  }
}

/** Why a request failed without a usable response, in codes only: `ECONNRESET`, `503 ServerBusy`. */
function reasonOf(error: unknown): string {
  const failure = error as { code?: unknown; name?: unknown; statusCode?: unknown }
  const code = typeof failure?.code === 'string' ? failure.code : undefined
  if (typeof failure?.statusCode === 'number')
    return code ? `${failure.statusCode} ${code}` : String(failure.statusCode)
  return code ?? (typeof failure?.name === 'string' ? failure.name : 'Error')
}

/**
 * The object URI of a request: `<store url>/<objectKey>` for a blob under the store's prefix, else the store's URL
 * (container requests, batches). The path is read after the container segment (an emulator puts the account first).
 */
export function uriOf(requestUrl: string, scope: BlobScope): string {
  const segments = new URL(requestUrl).pathname.split('/').slice(1)
  const at = segments.slice(0, 2).findIndex((segment) => decode(segment) === scope.container)
  if (at < 0) return scope.url
  const blobName = segments
    .slice(at + 1)
    .map(decode)
    .join('/')
  const base = scope.prefix ? `${scope.prefix}/` : ''
  if (blobName === '' || !blobName.startsWith(base)) return scope.url
  return `${scope.url}/${blobName.slice(base.length)}`
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
