import { XComError, type XComErrorCode } from '@xcom/core'
import { codeOfHttpStatus, type StoreFailure, storeError } from '@xcom/core/adapter'

/** What was being done when an Azure call failed, for {@link toXComError}. */
export interface AzureErrorContext {
  /** What was being done, lowercase, e.g. `"reading"`, `"writing"`, `"listing"`. */
  action: string
  /** The object or store URI concerned (never carries secrets). */
  uri: string
  /** Secret strings (account key, SAS token, connection string) scrubbed from any text taken from the SDK. @default [] */
  secrets?: readonly string[]
}

/** Maps an SDK error met while doing `action` to `uri`, with the store's secrets already bound. */
export type ErrorMapper = (error: unknown, action: string, uri: string) => XComError

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

/** The words of core's `storeError` templates that are Azure's own. */
const WORDS = {
  container: 'container',
  credentials: 'account key, SAS token or connection string of the connection or store options',
  endpoint: 'account URL',
} as const

/** The Azure error code of an SDK error (a `RestError`, or a batch sub-response `{ errorCode }`). */
function azureErrorCode(error: unknown): string | undefined {
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
  return (name === undefined ? undefined : CODES[name]) ?? codeOfHttpStatus(status) ?? 'E_BACKEND'
}

/**
 * Maps any error of the Azure SDK (or a failed batch sub-response) to an {@link XComError}: the one place where Azure
 * errors get their xcom code. Messages are core's `storeError` templates, but for a blob replaced while it is read.
 *
 * - `BlobNotFound`, `ContainerNotFound`, HTTP 404 -> `E_NOT_FOUND` naming the URI (or the missing container)
 * - `AuthorizationFailure`, `AuthenticationFailed`, other `Authorization*` codes, HTTP 401/403 -> `E_PERMISSION_DENIED`
 * - `ConditionNotMet`, `BlobAlreadyExists`, HTTP 409/412 -> `E_PRECONDITION_FAILED`
 * - anything else (network errors, throttling after the SDK's retries, server errors) -> `E_BACKEND`
 *
 * An {@link XComError} passes through unchanged. Neither the message nor the `cause` holds an account key or SAS
 * token: text from the SDK is scrubbed, and the cause is a scrubbed copy of the SDK error without its request.
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
  const cause = safeCause(error, secrets)
  // Reads are pinned to the ETag of their first response: a failed condition there means a newer blob.
  if (code === 'E_PRECONDITION_FAILED' && action === 'reading') {
    return new XComError(
      'E_PRECONDITION_FAILED',
      `Reading ${uri} failed: the blob was replaced while it was being read (${what}); read it again.`,
      { cause, uri },
    )
  }
  const detail = cause.message.split('\n', 1)[0]?.trim()
  const failure: StoreFailure = {
    action,
    uri,
    what,
    detail,
    cause,
    ...WORDS,
    containerMissing: name === 'ContainerNotFound',
  }
  return storeError(code, failure)
}

/** A {@link toXComError} bound to a store's secrets. */
export function errorMapper(secrets: readonly string[]): ErrorMapper {
  return (error, action, uri) => toXComError(error, { action, uri, secrets })
}
