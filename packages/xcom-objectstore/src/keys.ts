import { createHash } from 'node:crypto'
import { type XComContext, XComError, type XComKey } from '@xcom/core'

/** Longest encoded segment kept as is; longer ones are cut and suffixed with a hash so keys fit every store. */
const MAX_SEGMENT = 160

/** What a record id must look like to become part of an object key. */
const RECORD_ID = /^[A-Za-z0-9_-]{1,128}$/

/**
 * The shape of every key {@link objectKeyOf} builds: four encoded identity segments, the map index, and the file name
 * `<recordId>.<json|bin>[.<codec suffix>]`. The sweep only ever deletes keys of this shape.
 */
const OBJECT_KEY =
  /^(?:[A-Za-z0-9._%~-]+\/){3}(?:-1|\d+)\/[A-Za-z0-9._%~-]+\/[A-Za-z0-9_-]{1,128}\.(?:json|bin)(?:\.[A-Za-z0-9]+)?$/

/**
 * Encodes one identifier as a single key segment: every byte outside `[A-Za-z0-9_.-]` is percent-encoded (UTF-8), and
 * so is a leading `.`, so no identifier can add a path level (`/`, `\`), name `.` or `..`, hide itself, or smuggle a
 * control character. `%` itself is encoded, so `%2e%2e` stays literal. Segments longer than 160 characters are cut
 * and end with `~` and 16 hex digits of their SHA-256, keeping every key under the stores' length limits.
 */
export function encodeSegment(value: string): string {
  let encoded = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const safe =
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x5f ||
      byte === 0x2d ||
      (byte === 0x2e && encoded !== '')
    encoded += safe ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  if (encoded.length <= MAX_SEGMENT) return encoded
  const digest = createHash('sha256').update(value).digest('hex').slice(0, 16)
  // Cut before a partial escape so the kept part stays well-formed.
  let cut = encoded.slice(0, MAX_SEGMENT - 17)
  const lastEscape = cut.lastIndexOf('%')
  if (lastEscape > cut.length - 3) cut = cut.slice(0, lastEscape)
  return `${cut}~${digest}`
}

/** `<dagId>/<runId>/<taskId>/<mapIndex>/<key>`, each identifier encoded with {@link encodeSegment}. */
export function identityPath(id: XComKey): string {
  return [
    encodeSegment(id.dagId),
    encodeSegment(id.runId),
    encodeSegment(id.taskId),
    String(id.mapIndex),
    encodeSegment(id.key),
  ].join('/')
}

/**
 * The object key of a value: `<dagId>/<runId>/<taskId>/<mapIndex>/<key>/<recordId>.<json|bin><codec suffix>`,
 * relative to the store's prefix.
 * @throws XComError `E_INVALID_KEY` when the record id is not 1-128 characters of `[A-Za-z0-9_-]`.
 */
export function objectKeyOf(ctx: XComContext, format: 'json' | 'bytes', codecSuffix: string): string {
  return `${objectKeyStem(ctx)}.${format === 'json' ? 'json' : 'bin'}${codecSuffix}`
}

/** The key of a value without its extensions: every object of this record starts with it followed by `.`. */
function objectKeyStem(ctx: XComContext): string {
  if (typeof ctx.recordId !== 'string' || !RECORD_ID.test(ctx.recordId)) {
    throw new XComError(
      'E_INVALID_KEY',
      `Invalid record id ${JSON.stringify(String(ctx.recordId).slice(0, 40))}: it must be 1-128 characters of [A-Za-z0-9_-].`,
    )
  }
  return `${identityPath(ctx)}/${ctx.recordId}`
}

/** True when `objectKey` has the shape of a key built by {@link objectKeyOf} (the only keys the sweep may delete). */
export function isObjectKey(objectKey: string): boolean {
  return OBJECT_KEY.test(objectKey)
}

/**
 * The record id in a key built by {@link objectKeyOf}, lowercased: the sweep matches objects to rows by it, which holds
 * even on stores that fold the case of the identity segments (macOS and Windows file systems).
 */
export function recordIdOf(objectKey: string): string {
  const name = objectKey.slice(objectKey.lastIndexOf('/') + 1)
  return name.slice(0, name.indexOf('.')).toLowerCase()
}
