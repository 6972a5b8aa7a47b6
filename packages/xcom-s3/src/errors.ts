import { XComError, type XComErrorCode } from '@xcom/core'
import { codeOfHttpStatus, type StoreFailure, storeError } from '@xcom/core/adapter'

/** What was being done when an S3 call failed, for {@link toXComError}. */
export interface S3ErrorContext {
  /** What was being done, lowercase, e.g. `"reading"`, `"writing"`, `"listing"`. */
  action: string
  /** The object or store URI concerned (never carries secrets). */
  uri: string
  /** The bucket, named when the bucket itself is missing. */
  bucket?: string
  /**
   * Secret strings (access key id, secret key, session token) scrubbed from any text taken from the SDK, and from the
   * SDK error kept as `cause`. @default []
   */
  secrets?: readonly string[]
}

/** S3 error codes (the SDK's `error.name`) and what they mean to xcom. */
const CODES: Record<string, XComErrorCode> = {
  NoSuchKey: 'E_NOT_FOUND',
  NotFound: 'E_NOT_FOUND',
  NoSuchBucket: 'E_NOT_FOUND',
  AccessDenied: 'E_PERMISSION_DENIED',
  AllAccessDisabled: 'E_PERMISSION_DENIED',
  InvalidAccessKeyId: 'E_PERMISSION_DENIED',
  SignatureDoesNotMatch: 'E_PERMISSION_DENIED',
  ExpiredToken: 'E_PERMISSION_DENIED',
  InvalidToken: 'E_PERMISSION_DENIED',
  TokenRefreshRequired: 'E_PERMISSION_DENIED',
  PreconditionFailed: 'E_PRECONDITION_FAILED',
  ConditionalRequestConflict: 'E_PRECONDITION_FAILED',
  CredentialsProviderError: 'E_CONFIG',
}

/** S3 error codes of a request the endpoint does not implement (S3-compatible services, emulators). */
const UNSUPPORTED = new Set(['NotImplemented', 'MethodNotAllowed'])

/** The S3 error code of an SDK error (or of a DeleteObjects entry `{ Code, Message }`). */
function errorName(error: unknown): string {
  const candidate = error as { Code?: unknown; name?: unknown } | null
  if (typeof candidate?.Code === 'string') return candidate.Code
  return typeof candidate?.name === 'string' ? candidate.name : 'Error'
}

/**
 * True when the endpoint answered that it does not implement the request (`NotImplemented`, `MethodNotAllowed`, HTTP
 * 501): an S3-compatible service or emulator without that operation.
 */
export function isUnsupported(error: unknown): boolean {
  return UNSUPPORTED.has(errorName(error)) || httpStatus(error) === 501
}

function httpStatus(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode
  return typeof status === 'number' ? status : undefined
}

/** `text` with every secret (of 4 characters or more: shorter ones would mask ordinary words) replaced by `***`. */
function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => (secret.length >= 4 ? out.replaceAll(secret, '***') : out), text)
}

/**
 * Makes an SDK error safe to keep as `cause` and to log, in place. Its (hidden, read-only) `$response` keeps status,
 * reason and headers but loses its body, already read by the SDK: the body is the Node response, whose request holds
 * the raw request headers (session token, access key id), which `util.inspect` with hidden fields, or a deep logger,
 * would print. Known secrets are scrubbed from its string fields: message, stack and fields parsed from the error
 * response (s3rver echoes `AWSAccessKeyId`; S3's `SignatureDoesNotMatch` carries a `CanonicalRequest` holding the
 * session token).
 */
function sanitizeCause(error: unknown, secrets: readonly string[]): void {
  if (typeof error !== 'object' || error === null) return
  const target = error as Record<string, unknown>
  const response = target.$response as { body?: unknown } | undefined
  if (typeof response === 'object' && response !== null && response.body !== undefined) {
    try {
      response.body = undefined
    } catch {
      // A frozen response keeps its body; nothing else refers to it.
    }
  }
  if (secrets.length === 0) return
  for (const name of [...Object.getOwnPropertyNames(error), 'message', 'stack']) {
    const descriptor = Object.getOwnPropertyDescriptor(error, name)
    if (typeof descriptor?.value !== 'string' || !descriptor.writable) continue
    const clean = scrub(descriptor.value, secrets)
    if (clean !== descriptor.value) target[name] = clean
  }
}

/** Where an S3 refusal sends the reader to look. */
const CREDENTIALS = "the connection's login/password or extras, or the AWS default credential chain"

/**
 * Maps any error of the AWS SDK (or of a DeleteObjects result entry) to an {@link XComError}: the one place where S3
 * errors get their xcom code. Messages are core's `storeError` templates, but for configuration errors and operations
 * the endpoint does not implement.
 *
 * - `NoSuchKey`, `NotFound`, HTTP 404 -> `E_NOT_FOUND` naming the URI; `NoSuchBucket` -> `E_NOT_FOUND` naming the bucket
 * - `AccessDenied`, `InvalidAccessKeyId`, `SignatureDoesNotMatch`, expired tokens, HTTP 401/403 -> `E_PERMISSION_DENIED`
 * - `PreconditionFailed`, `ConditionalRequestConflict`, HTTP 409/412 -> `E_PRECONDITION_FAILED`
 * - missing credentials or region -> `E_CONFIG`
 * - `NotImplemented`, `MethodNotAllowed`, HTTP 501 (an S3-compatible endpoint without that operation) -> `E_BACKEND`
 *   saying so
 * - anything else (network errors, throttling after the SDK's retries, server errors) -> `E_BACKEND`
 *
 * An {@link XComError} passes through unchanged. The message says what was being done, to which URI, and what to do
 * next; it never holds credentials (`context.secrets` are scrubbed from text taken from the SDK). The original error is
 * the `cause`, made safe to log: secrets scrubbed from its string fields, and the raw HTTP body (whose request carries
 * the signed headers) dropped from its `$response`.
 */
export function toXComError(error: unknown, context: S3ErrorContext): XComError {
  if (XComError.is(error)) return error
  const { action, uri } = context
  sanitizeCause(error, context.secrets ?? [])
  const name = errorName(error)
  const status = httpStatus(error)
  const text = error as { message?: unknown; Message?: unknown } | null
  // A DeleteObjects entry says `Message` where SDK errors say `message`.
  const message = String(text?.message ?? text?.Message ?? error)
  const detail = scrub(message.split('\n', 1)[0]?.trim() ?? '', context.secrets ?? [])
  const what = `${name}${status === undefined ? '' : `, HTTP ${status}`}`
  const code =
    CODES[name] ?? codeOfHttpStatus(status) ?? (/region is missing/i.test(detail) ? 'E_CONFIG' : 'E_BACKEND')
  const Action = action.charAt(0).toUpperCase() + action.slice(1)
  // Configuration and missing operations are S3's own: core's templates would send the reader to the endpoint.
  if (code === 'E_CONFIG') {
    return new XComError(
      'E_CONFIG',
      `${Action} ${uri} failed: the S3 client is not configured (${what}: ${detail}). Set the region and credentials through the connection, the store options, or the standard AWS_* environment variables.`,
      { cause: error, uri },
    )
  }
  if (code === 'E_BACKEND' && isUnsupported(error)) {
    return new XComError(
      'E_BACKEND',
      `${Action} ${uri} failed: the endpoint does not implement this S3 operation (${what}: ${detail}). It is an S3-compatible service or emulator without it: use a service that has it, or do without this operation.`,
      { cause: error, uri },
    )
  }
  const failure: StoreFailure = {
    action,
    uri,
    what,
    detail,
    cause: error,
    container: context.bucket ? `bucket "${context.bucket}"` : 'bucket',
    credentials: CREDENTIALS,
    endpoint: 'endpoint',
    containerMissing: name === 'NoSuchBucket',
  }
  return storeError(code, failure)
}
