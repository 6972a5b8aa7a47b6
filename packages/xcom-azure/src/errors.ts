import { XComError, type XComErrorCode } from '@xcom/core'

/** What was being done when an Azure call failed, for {@link toXComError}. */
export interface AzureErrorContext {
  /** What was being done, lowercase, e.g. `"reading"`, `"writing"`, `"listing"`. */
  action: string
  /** The object or store URI concerned (never carries secrets). */
  uri: string
  /** Secret strings (account key, SAS token, connection string) scrubbed from any text taken from the SDK. @default [] */
  secrets?: readonly string[]
}

/** Azure Storage error codes (`x-ms-error-code`) and what they mean to xcom. */
const CODES: Record<string, XComErrorCode> = {
  BlobNotFound: 'E_NOT_FOUND',
  ContainerNotFound: 'E_NOT_FOUND',
  ResourceNotFound: 'E_NOT_FOUND',
  AuthorizationFailure: 'E_PERMISSION_DENIED',
  AuthenticationFailed: 'E_PERMISSION_DENIED',
  AuthorizationPermissionMismatch: 'E_PERMISSION_DENIED',
  AuthorizationResourceTypeMismatch: 'E_PERMISSION_DENIED',
  AuthorizationServiceMismatch: 'E_PERMISSION_DENIED',
  AuthorizationSourceIPMismatch: 'E_PERMISSION_DENIED',
  AuthorizationProtocolMismatch: 'E_PERMISSION_DENIED',
  InsufficientAccountPermissions: 'E_PERMISSION_DENIED',
  KeyBasedAuthenticationNotPermitted: 'E_PERMISSION_DENIED',
  ConditionNotMet: 'E_PRECONDITION_FAILED',
  BlobAlreadyExists: 'E_PRECONDITION_FAILED',
  TargetConditionNotMet: 'E_PRECONDITION_FAILED',
}

const STATUSES: Record<number, XComErrorCode> = {
  401: 'E_PERMISSION_DENIED',
  403: 'E_PERMISSION_DENIED',
  404: 'E_NOT_FOUND',
  409: 'E_PRECONDITION_FAILED',
  412: 'E_PRECONDITION_FAILED',
}

/** The Azure error code of an SDK error (a `RestError`, or a batch sub-response `{ errorCode }`). */
export function azureErrorCode(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; errorCode?: unknown; details?: { errorCode?: unknown } } | null
  for (const code of [candidate?.details?.errorCode, candidate?.errorCode, candidate?.code]) {
    if (typeof code === 'string' && /^[A-Z][A-Za-z]+$/.test(code)) return code
  }
  return undefined
}

/** The HTTP status of an SDK error (`statusCode`, or `status` of a batch sub-response). */
export function httpStatus(error: unknown): number | undefined {
  const candidate = error as { statusCode?: unknown; status?: unknown } | null
  const status = candidate?.statusCode ?? candidate?.status
  return typeof status === 'number' ? status : undefined
}

/**
 * Removes secrets from text taken from the SDK: the given strings, any SAS signature (`sig=...`), account keys in
 * connection strings, and the query string of every URL (SAS tokens travel there).
 */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = secrets.reduce((acc, secret) => (secret.length >= 4 ? acc.replaceAll(secret, '***') : acc), text)
  out = out.replace(/(https?:\/\/[^\s?"'<>]*)\?[^\s"'<>]*/gi, '$1?***')
  out = out.replace(/\b(sig|AccountKey|SharedAccessSignature)=[^\s&;"'<>]*/gi, '$1=***')
  return out
}

/**
 * A copy of an SDK error that keeps what helps debugging (name, scrubbed message, status, Azure error code, request id)
 * and drops what may carry secrets (the request with its SAS URL and headers).
 */
function safeCause(error: unknown, secrets: readonly string[]): Error {
  const source = error as { name?: unknown; message?: unknown; request?: { requestId?: unknown } } | null
  const cause = new Error(scrub(String(source?.message ?? error), secrets)) as Error & Record<string, unknown>
  cause.name = typeof source?.name === 'string' ? source.name : 'Error'
  cause.statusCode = httpStatus(error)
  cause.code = azureErrorCode(error)
  if (typeof source?.request?.requestId === 'string') cause.requestId = source.request.requestId
  return cause
}

/** The xcom code of an Azure error: by Azure error code first, then by HTTP status, else `E_BACKEND`. */
export function codeOf(error: unknown): XComErrorCode {
  const name = azureErrorCode(error)
  const status = httpStatus(error)
  return (
    (name === undefined ? undefined : CODES[name]) ??
    (status === undefined ? undefined : STATUSES[status]) ??
    'E_BACKEND'
  )
}

/**
 * Maps any error of the Azure SDK (or a failed batch sub-response) to an {@link XComError}: the one place where Azure
 * errors get their xcom code.
 *
 * - `BlobNotFound`, `ContainerNotFound`, HTTP 404 -> `E_NOT_FOUND` naming the URI (or the missing container)
 * - `AuthorizationFailure`, `AuthenticationFailed`, other `Authorization*` codes, HTTP 401/403 -> `E_PERMISSION_DENIED`
 * - `ConditionNotMet`, `BlobAlreadyExists`, HTTP 409/412 -> `E_PRECONDITION_FAILED`
 * - anything else (network errors, throttling after the SDK's retries, server errors) -> `E_BACKEND`
 *
 * An {@link XComError} passes through unchanged. The message says what was being done, to which URI, and what to do
 * next. Neither the message nor the `cause` holds an account key or SAS token: text from the SDK is scrubbed, and the
 * cause is a scrubbed copy of the SDK error without its request.
 */
export function toXComError(error: unknown, context: AzureErrorContext): XComError {
  if (XComError.is(error)) return error
  const { action, uri } = context
  const secrets = context.secrets ?? []
  const name = azureErrorCode(error)
  const status = httpStatus(error)
  const code = codeOf(error)
  const what =
    [name, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ') ||
    'no HTTP response'
  const options = { cause: safeCause(error, secrets), uri }
  const detail = scrub(firstLine(String((error as { message?: unknown } | null)?.message ?? error)), secrets)
  switch (code) {
    case 'E_NOT_FOUND':
      return name === 'ContainerNotFound'
        ? new XComError(
            'E_NOT_FOUND',
            `${capitalize(action)} ${uri} failed: the container does not exist (${what}). Create it, or fix the container name in the store URL or options.`,
            options,
          )
        : new XComError(
            'E_NOT_FOUND',
            `No object at ${uri} (${what}): it was never written or has been deleted.`,
            options,
          )
    case 'E_PERMISSION_DENIED':
      return new XComError(
        'E_PERMISSION_DENIED',
        `${capitalize(action)} ${uri} was refused (${what}): check the credentials (account key, SAS token or connection string of the connection or store options) and that they may access this container.`,
        options,
      )
    case 'E_PRECONDITION_FAILED':
      return new XComError(
        'E_PRECONDITION_FAILED',
        action === 'reading'
          ? `Reading ${uri} failed: the blob was replaced while it was being read (${what}); read it again.`
          : `${capitalize(action)} ${uri} failed: a condition of the request did not hold (${what}); for a create-only write, an object already exists there.`,
        options,
      )
    default:
      return new XComError(
        code,
        `${capitalize(action)} ${uri} failed (${what}${detail ? `: ${detail}` : ''}). Check that the account URL is reachable; the SDK already retried transient failures.`,
        options,
      )
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]?.trim() ?? ''
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
