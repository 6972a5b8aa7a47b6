import { type ApiError, RETRYABLE_ERR_FN_DEFAULT } from '@google-cloud/storage'
import { logRetry } from '@xcom/core/adapter'

/** Where the store's objects are, to turn a request URL into the object URI of a message. */
export interface ObjectScope {
  /** The store's `url`: `gs://[<connectionId>@]<bucket>[/<prefix>]`. */
  url: string
  bucket: string
  /** Without leading or trailing `/`. */
  prefix: string
}

/** Request URLs whose failures are counted at once; older ones are forgotten (their count restarts). */
const TRACKED_REQUESTS = 1000

/**
 * `retryableErrorFn` (the SDK's decision whether to retry a failed request) wrapped so that every retry it grants is
 * logged at `info` through the active XCom operation's logger (nothing outside one): the kind of request, the object
 * URI (rebuilt from the request path: no query, no token), the attempt about to be made and the status. The SDK
 * gives no attempt number, and `save()` starts each attempt as a new invocation, so failures are counted per request
 * URL (an upload's or a read's URL is the same on every attempt): a later call failing on the same URL counts on.
 * The SDK does not ask about failures without a response (resets, refused connections): those are not logged.
 */
export function loggingRetryableErrorFn(
  scope: ObjectScope,
  decide: (error: ApiError) => boolean = RETRYABLE_ERR_FN_DEFAULT,
): (error: ApiError) => boolean {
  const failures = new Map<string, number>()
  return (error) => {
    const retried = decide(error)
    if (!retried) return retried
    const request = requestOf(error)
    const failed = (failures.get(request.href) ?? 0) + 1
    // Re-inserted, so the map forgets the least recently failed URL first.
    failures.delete(request.href)
    failures.set(request.href, failed)
    if (failures.size > TRACKED_REQUESTS) failures.delete(failures.keys().next().value as string)
    const { uri, operation } = describe(request.href, scope)
    logRetry({ operation, uri, attempt: failed + 1, reason: reasonOf(error) })
    return retried
  }
}

/** The URL of the failed request, as teeny-request (or gaxios) reports it. */
function requestOf(error: ApiError): { href: string } {
  const failure = error as unknown as {
    response?: { request?: { href?: unknown } }
    config?: { url?: unknown }
  }
  const href = failure.response?.request?.href ?? failure.config?.url
  return { href: typeof href === 'string' ? href : String(href ?? '') }
}

/**
 * The object URI and the kind of a JSON-API request: `/b/<bucket>/o/<name>` (metadata, media, delete),
 * `/upload/.../b/<bucket>/o?name=<name>` (uploads), `/b/<bucket>/o` (listing).
 */
export function describe(href: string, scope: ObjectScope): { uri: string; operation: string } {
  let url: URL
  try {
    url = new URL(href)
  } catch {
    return { uri: scope.url, operation: 'request' }
  }
  const upload = url.pathname.startsWith('/upload/')
  const match = /\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname)
  const name = match?.[2] !== undefined ? decode(match[2]) : (url.searchParams.get('name') ?? undefined)
  const operation = upload
    ? 'upload'
    : url.searchParams.get('alt') === 'media'
      ? 'download'
      : name
        ? 'object request'
        : 'listing'
  const base = scope.prefix ? `${scope.prefix}/` : ''
  if (
    match === null ||
    decode(match[1] ?? '') !== scope.bucket ||
    name === undefined ||
    !name.startsWith(base)
  ) {
    return { uri: scope.url, operation }
  }
  return { uri: `${scope.url}/${name.slice(base.length)}`, operation }
}

/** The status and GCS reason of a failure: `503 backendError`, `429 rateLimitExceeded`, or the error's code. */
function reasonOf(error: ApiError): string {
  const code = (error as { code?: unknown }).code
  const reason = error.errors?.[0]?.reason
  if (typeof code === 'number') return reason ? `${code} ${reason}` : String(code)
  return typeof code === 'string' ? code : 'Error'
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
