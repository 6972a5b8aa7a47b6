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
}

/** The kinds of store failure {@link storeError} phrases. */
export type StoreFailureKind =
  | 'missing-object'
  | 'missing-container'
  | 'refused'
  | 'precondition'
  | XComErrorCode

/**
 * The XComError of a failed store request, in the words every adapter uses: a missing object or bucket, a refusal
 * (check the credentials), a failed condition (an object already exists), or any other code (check that the endpoint
 * is reachable; the SDK already retried). The error's `uri` is the failure's URI, its `cause` the failure's cause.
 */
export function storeError(kind: StoreFailureKind, failure: StoreFailure): XComError {
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
