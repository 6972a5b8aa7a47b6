import { XComError, type XComErrorCode } from './errors.ts'

/**
 * A failed request of a cloud store, as an adapter knows it: what was being done, to which URI, what the service
 * answered. {@link storeError} phrases it the same way for every adapter. Nothing here may carry a secret: scrub the
 * service's text and the cause first.
 */
export interface StoreFailure {
  /** What was being done, lowercase: `"reading"`, `"writing"`, `"deleting"`, `"listing"`. */
  action: string
  /** The object or store URI concerned. */
  uri: string
  /** What the service answered, short: `NoSuchKey, HTTP 404`, `HTTP 403`, `no HTTP response`. */
  what: string
  /** More of the service's message (scrubbed, one line), when it says more than {@link what}. */
  detail?: string | undefined
  /** The underlying error, made safe to log. */
  cause: unknown
  /** The store's word for a bucket (`bucket`, `container`), with its name when known: `bucket "data"`. */
  container: string
  /** Where the credentials come from, for a refusal: `the connection's login/password or extras, ...`. */
  credentials: string
  /** What must be reachable, for any other failure: `endpoint`, `account URL`. */
  endpoint: string
  /** For `E_NOT_FOUND`: the bucket itself is missing, not just the object. */
  containerMissing?: boolean
}

const HTTP_STATUS_CODES: Readonly<Record<number, XComErrorCode>> = {
  401: 'E_PERMISSION_DENIED',
  403: 'E_PERMISSION_DENIED',
  404: 'E_NOT_FOUND',
  409: 'E_PRECONDITION_FAILED',
  412: 'E_PRECONDITION_FAILED',
}

/**
 * The xcom code an HTTP status of a store's answer means, where the status alone says it (401/403 refused, 404 missing,
 * 409/412 a failed condition); `undefined` for any other status, which the adapter maps by the service's own codes.
 */
export function codeOfHttpStatus(status: number | undefined): XComErrorCode | undefined {
  return status === undefined ? undefined : HTTP_STATUS_CODES[status]
}

/**
 * The XComError of `code` for a failed store request, in the words every adapter uses: a missing object or bucket
 * (`E_NOT_FOUND`), a refusal (`E_PERMISSION_DENIED`: check the credentials), a failed condition
 * (`E_PRECONDITION_FAILED`: an object already exists), or any other code (check that the endpoint is reachable; the SDK
 * already retried). The error's `uri` is the failure's URI, its `cause` the failure's cause.
 */
export function storeError(code: XComErrorCode, failure: StoreFailure): XComError {
  const kind =
    code === 'E_NOT_FOUND'
      ? failure.containerMissing
        ? 'missing-container'
        : 'missing-object'
      : code === 'E_PERMISSION_DENIED'
        ? 'refused'
        : code === 'E_PRECONDITION_FAILED'
          ? 'precondition'
          : code
  const { uri, what, detail, container } = failure
  const Action = failure.action.charAt(0).toUpperCase() + failure.action.slice(1)
  const answered = detail ? `${what}: ${detail}` : what
  const options = { cause: failure.cause, uri }
  switch (kind) {
    case 'missing-object':
      return new XComError(
        'E_NOT_FOUND',
        `No object at ${uri} (${what}): it was never written or has been deleted.`,
        options,
      )
    case 'missing-container':
      return new XComError(
        'E_NOT_FOUND',
        `${Action} ${uri} failed: the ${container} does not exist (${answered}). Create it, or fix the ${container.split(' ')[0]} name in the store URL or options.`,
        options,
      )
    case 'refused':
      return new XComError(
        'E_PERMISSION_DENIED',
        `${Action} ${uri} was refused (${answered}): check the credentials (${failure.credentials}) and that they may access this ${container.split(' ')[0]}.`,
        options,
      )
    case 'precondition':
      return new XComError(
        'E_PRECONDITION_FAILED',
        `${Action} ${uri} failed: a condition of the request did not hold (${what}); for a create-only write, an object already exists there.`,
        options,
      )
    default:
      return new XComError(
        kind,
        `${Action} ${uri} failed (${answered}). Check that the ${failure.endpoint} is reachable; the SDK already retried transient failures.`,
        options,
      )
  }
}
