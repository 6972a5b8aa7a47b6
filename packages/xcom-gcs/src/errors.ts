import { XComError, type XComErrorCode } from '@xcom/core'
import { codeOfHttpStatus, type StoreFailure, storeError } from '@xcom/core/adapter'

/** What was being done when a GCS call failed, for {@link toXComError}. */
export interface GcsErrorContext {
  /** What was being done, lowercase, e.g. `"reading"`, `"writing"`, `"listing"`. */
  action: string
  /** The object or store URI concerned (never carries secrets). */
  uri: string
}

/** The facts of an SDK error worth keeping, without its request configuration (which can hold tokens). */
export class GcsSdkError extends Error {
  /** The SDK's `code`: an HTTP status (`404`) or a symbolic code (`'CONTENT_DOWNLOAD_MISMATCH'`, `'ENOENT'`). */
  readonly code: number | string | undefined
  /** The HTTP status of the response, when there was one. */
  readonly status: number | undefined
  /** The Google API error reason, e.g. `'notFound'`, `'conditionNotMet'`. */
  readonly reason: string | undefined

  constructor(
    message: string,
    facts: { name: string; code?: number | string; status?: number; reason?: string },
  ) {
    super(message)
    this.name = facts.name
    this.code = facts.code
    this.status = facts.status
    this.reason = facts.reason
  }
}

/** Symbolic codes of the SDK (and of Node for key files) and what they mean to xcom. */
const CODES: Record<string, XComErrorCode> = {
  CONTENT_DOWNLOAD_MISMATCH: 'E_CORRUPT',
  FILE_NO_UPLOAD: 'E_CORRUPT',
  MD5_NOT_AVAILABLE: 'E_CONFIG',
  ENOENT: 'E_CONFIG',
  EACCES: 'E_CONFIG',
  EISDIR: 'E_CONFIG',
}

/** Where GCS credentials come from, named in refusals. */
const CREDENTIALS = "the connection's key_path / keyfile_dict, or Application Default Credentials"

interface SdkErrorShape {
  name?: unknown
  message?: unknown
  code?: unknown
  status?: unknown
  response?: { status?: unknown }
  errors?: { reason?: unknown }[]
}

/** The HTTP status of an SDK error: 8.4 puts it in `code`; gaxios errors (and 7.x) in `status` / `response.status`. */
function httpStatus(error: SdkErrorShape): number | undefined {
  for (const candidate of [error.code, error.response?.status, error.status]) {
    const status = typeof candidate === 'string' && /^\d{3}$/.test(candidate) ? Number(candidate) : candidate
    if (typeof status === 'number' && status >= 100 && status <= 599) return status
  }
  return undefined
}

/**
 * Removes anything that looks like a credential from text taken from the SDK: PEM blocks, bearer tokens, JSON
 * `private_key`/`client_secret`/`refresh_token`/`access_token` values, and long base64 runs; then cuts it short.
 */
export function redact(text: string): string {
  return text
    .replace(/-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g, '[redacted key]')
    .replace(/(bearer\s+)[\w.~+/=-]+/gi, '$1[redacted]')
    .replace(
      /("?(?:private_key(?:_id)?|client_secret|refresh_token|access_token|id_token|token)"?\s*[:=]\s*)("[^"]*"|[^\s,&}]+)/gi,
      '$1[redacted]',
    )
    .replace(/[A-Za-z0-9+/_-]{120,}={0,2}/g, '[redacted]')
    .slice(0, 300)
}

/** A copy of an SDK error with its facts and a redacted message, safe to attach as `cause` and to log. */
function safeCause(error: unknown): GcsSdkError {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape
  const name = typeof shape.name === 'string' ? shape.name : 'Error'
  const code = typeof shape.code === 'number' || typeof shape.code === 'string' ? shape.code : undefined
  const reason = shape.errors?.find((entry) => typeof entry?.reason === 'string')?.reason as
    | string
    | undefined
  const status = httpStatus(shape)
  return new GcsSdkError(redact(String(shape.message ?? error)), {
    name,
    ...(code === undefined ? {} : { code }),
    ...(status === undefined ? {} : { status }),
    ...(reason === undefined ? {} : { reason }),
  })
}

/** The one-line reason shown in messages: the SDK's message, or the Google error JSON's `message`. */
function detailOf(cause: GcsSdkError): string {
  const json = /^\s*\{/.test(cause.message) ? /"message"\s*:\s*"([^"]*)"/.exec(cause.message)?.[1] : undefined
  return (json ?? cause.message).replace(/\s+/g, ' ').trim()
}

/** The xcom code of a (safe copy of an) SDK error, from its symbolic code, the token endpoint's words, its status. */
function codeOf(cause: GcsSdkError, detail: string): XComErrorCode {
  const symbolic = typeof cause.code === 'string' ? cause.code : undefined
  return (
    (symbolic === undefined
      ? undefined
      : (CODES[symbolic] ?? (symbolic.startsWith('ERR_OSSL') ? 'E_CONFIG' : undefined))) ??
    // The token endpoint refuses a revoked or unknown key with HTTP 400.
    (/invalid_grant|invalid_client|unauthorized_client/i.test(detail) ? 'E_PERMISSION_DENIED' : undefined) ??
    codeOfHttpStatus(cause.status) ??
    (/could not load the default credentials|unable to detect a project id/i.test(detail)
      ? 'E_CONFIG'
      : 'E_BACKEND')
  )
}

/** A 404 is a missing bucket only when GCS says so. */
function bucketMissing(detail: string): boolean {
  return /bucket/i.test(detail) && !/object|no such key/i.test(detail)
}

/** True when an SDK error says the object does not exist (and its bucket does): what `head` answers with undefined. */
export function isMissingObject(error: unknown): boolean {
  if (XComError.is(error)) return false
  const cause = safeCause(error)
  const detail = detailOf(cause)
  return codeOf(cause, detail) === 'E_NOT_FOUND' && !bucketMissing(detail)
}

/**
 * Maps any error of @google-cloud/storage (or of reading a key file) to an {@link XComError}: the one place where GCS
 * errors get their xcom code. Messages are core's `storeError` templates, but for checksum and credential failures.
 *
 * - HTTP 404 -> `E_NOT_FOUND` naming the URI (a missing bucket says so)
 * - HTTP 401 / 403 -> `E_PERMISSION_DENIED`
 * - HTTP 412 -> `E_PRECONDITION_FAILED` (a create-only write found an object)
 * - the SDK's checksum errors (`CONTENT_DOWNLOAD_MISMATCH`, `FILE_NO_UPLOAD`) -> `E_CORRUPT`
 * - token endpoint refusals (`invalid_grant`, `invalid_client`) -> `E_PERMISSION_DENIED`
 * - missing default credentials, an unreadable key file or unusable private key (`ERR_OSSL_*`) -> `E_CONFIG`
 * - anything else (network errors, 5xx after the SDK's retries) -> `E_BACKEND`
 *
 * An {@link XComError} passes through unchanged. The `cause` is a {@link GcsSdkError} copy of the SDK error without its
 * request configuration (which can hold an access token), and text taken from the SDK is {@link redact}ed: no
 * credential, key file content or token ever appears in a message or a cause.
 */
export function toXComError(error: unknown, context: GcsErrorContext): XComError {
  if (XComError.is(error)) return error
  const { action, uri } = context
  const cause = safeCause(error)
  const detail = detailOf(cause)
  const what =
    cause.status === undefined
      ? `${cause.name}${typeof cause.code === 'string' ? ` ${cause.code}` : ''}`
      : `HTTP ${cause.status}`
  const code = codeOf(cause, detail)
  const Action = action.charAt(0).toUpperCase() + action.slice(1)
  // Checksum and credential failures are GCS's own: core's templates would send the reader to the endpoint.
  if (code === 'E_CORRUPT') {
    return new XComError(
      'E_CORRUPT',
      `${Action} ${uri} failed: the bytes do not match the checksum GCS holds (${what}). The data was damaged in transit or in storage; retry, and if it persists, the object is corrupt: push the value again.`,
      { cause, uri },
    )
  }
  if (code === 'E_CONFIG') {
    return new XComError(
      'E_CONFIG',
      `${Action} ${uri} failed: the GCS credentials are missing or unusable (${what}: ${detail}). Give a key_path or keyfile_dict in the connection, keyFilename/credentials in the options, or set up Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS).`,
      { cause, uri },
    )
  }
  const failure: StoreFailure = {
    action,
    uri,
    what,
    detail,
    cause,
    container: 'bucket',
    credentials: CREDENTIALS,
    endpoint: 'endpoint',
    containerMissing: bucketMissing(detail),
  }
  return storeError(code, failure)
}
