import type { IncomingMessage } from 'node:http'
import { readBody } from './bytes.ts'
import { GcsError } from './http.ts'

/** The largest JSON request body (bucket insert, PATCH, resumable init, multipart metadata part). */
export const MAX_JSON_BYTES = 1024 * 1024

/** Object resource fields a client may set on upload and PATCH, stored as strings. */
export const WRITABLE_FIELDS = [
  'cacheControl',
  'contentDisposition',
  'contentEncoding',
  'contentLanguage',
  'customTime',
  'storageClass',
] as const

/** One of {@link WRITABLE_FIELDS}. */
export type WritableField = (typeof WRITABLE_FIELDS)[number]

/** What an upload carries besides its bytes. */
export interface UploadMetadata {
  /** `undefined` when neither the metadata nor a header named one (stored as application/octet-stream). */
  contentType: string | undefined
  fields: Partial<Record<WritableField, string>>
  /** Custom metadata, values as strings. */
  metadata: Record<string, string>
  /** The CRC-32C the client declared, to verify against the bytes received. */
  crc32c: string | undefined
  /** The MD5 the client declared, to verify against the bytes received. */
  md5Hash: string | undefined
}

/**
 * Reads a JSON object body (an empty body is `{}`).
 *
 * @throws GcsError 400 `parseError` / `invalid` when it is not a JSON object; 413 over {@link MAX_JSON_BYTES}
 */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, MAX_JSON_BYTES)
  return body.length === 0 ? {} : parseJsonObject(body.copy().toString('utf8'))
}

/** Parses JSON text that must be an object. @throws GcsError 400 `parseError` / `invalid` */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new GcsError(400, 'parseError', 'The request body is not valid JSON.')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GcsError(400, 'invalid', 'The request body must be a JSON object.')
  }
  return value as Record<string, unknown>
}

/** Whether `value` is a plain object of strings (bucket labels). */
export function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === 'string')
  )
}

/** Percent-decodes one path segment. @throws GcsError 400 on a malformed escape */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new GcsError(400, 'invalid', `Invalid percent-encoding in path segment: ${segment}`)
  }
}

/**
 * Validates an object name as GCS does: 1 to 1024 UTF-8 bytes, no CR or LF, not `.` or `..`.
 * @throws GcsError 400 `required` when missing, `invalid` otherwise
 */
export function objectName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new GcsError(400, 'required', 'Required parameter: name')
  if (Buffer.byteLength(value) > 1024 || /[\r\n]/.test(value) || value === '.' || value === '..') {
    throw new GcsError(400, 'invalid', `Invalid object name: ${JSON.stringify(value)}`)
  }
  return value
}

/**
 * Reads an upload's object resource JSON. The content type comes from the JSON, else from `fallbackContentType`
 * (the media part's or the `X-Upload-Content-Type` header), because the SDK sends it in either place.
 */
export function uploadMetadata(
  json: Record<string, unknown>,
  fallbackContentType: string | undefined,
): UploadMetadata {
  const fields: Partial<Record<WritableField, string>> = {}
  for (const field of WRITABLE_FIELDS) {
    const value = json[field]
    if (typeof value === 'string') fields[field] = value
  }
  return {
    contentType: typeof json.contentType === 'string' ? json.contentType : fallbackContentType,
    fields,
    metadata: metadataValues(json.metadata),
    crc32c: typeof json.crc32c === 'string' ? json.crc32c : undefined,
    md5Hash: typeof json.md5Hash === 'string' ? json.md5Hash : undefined,
  }
}

/** Custom metadata: values become strings, nulls are dropped. */
function metadataValues(value: unknown): Record<string, string> {
  const metadata: Record<string, string> = {}
  if (typeof value !== 'object' || value === null) return metadata
  for (const [key, entry] of Object.entries(value)) {
    if (entry !== null && entry !== undefined) metadata[key] = String(entry)
  }
  return metadata
}

/** A resumable upload's `Content-Range`: absent `start` is a status query, absent `end` means "to the end". */
export interface ContentRange {
  start?: number
  /** Inclusive. */
  end?: number
  total?: number
}

/**
 * Parses a resumable `Content-Range`: `bytes S-E/T`, `S-E/*`, `S-* /*`, `S-* /T`, `* /*`, `* /T` (without the spaces).
 * A missing header means "the whole object in this request" (`bytes 0-* /*`).
 *
 * @throws GcsError 400 on any other form, or an end before the start
 */
export function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined) return { start: 0 }
  const match = /^bytes\s+(?:\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(header.trim())
  if (!match) throw new GcsError(400, 'invalid', `Invalid Content-Range: ${header}`)
  const [, start, end, total] = match
  const range = {
    ...(start === undefined ? {} : { start: Number(start) }),
    ...(end === undefined || end === '*' ? {} : { end: Number(end) }),
    ...(total === '*' ? {} : { total: Number(total) }),
  }
  if (range.end !== undefined && range.end < range.start!) {
    throw new GcsError(400, 'invalid', `Invalid Content-Range: ${header}`)
  }
  return range
}

/**
 * Parses a single-range `Range: bytes=a-b | a- | -n` into `[start, endExclusive]`. Returns `undefined` to serve the
 * whole object (no header, or a form this server ignores, like multiple ranges) and `'unsatisfiable'` for 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): [number, number] | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') {
    const suffix = Number(match[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return [Math.max(0, size - suffix), size]
  }
  const start = Number(match[1])
  if (match[2] !== '' && Number(match[2]) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  const last = match[2] === '' ? size - 1 : Number(match[2])
  return [start, Math.min(last, size - 1) + 1]
}
