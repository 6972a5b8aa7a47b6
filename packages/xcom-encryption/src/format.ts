import { XComError } from '@xcom/core'
import { corrupt } from './errors.ts'

/** The format's name, recorded by references. */
export const FORMAT_NAME = 'aes256gcm-hkdf-stream-v1'
/** The first bytes of every encrypted value: 0x89 then ASCII `XCE` (the high byte keeps it from passing as text). */
export const MAGIC = Uint8Array.of(0x89, 0x58, 0x43, 0x45)
/** The format version byte. */
export const VERSION = 1
/** Bytes of the key id field: 1 length byte, then the id padded with zero bytes to 64. */
export const KEY_ID_FIELD = 64
/** Bytes of the HKDF salt. */
export const SALT_SIZE = 32
/** Bytes of the random nonce prefix. */
export const PREFIX_SIZE = 7
/** Bytes of a GCM tag. */
export const TAG_SIZE = 16
/** Header bytes: magic 4, version 1, segment size 4, key id length 1, key id 64, salt 32, nonce prefix 7. */
export const HEADER_SIZE = 4 + 1 + 4 + 1 + KEY_ID_FIELD + SALT_SIZE + PREFIX_SIZE
/** Smallest plaintext segment size a header may name. */
export const MIN_SEGMENT_SIZE = 16
/** Largest plaintext segment size a header may name: it caps what a reader holds. */
export const MAX_SEGMENT_SIZE = 16 * 1024 * 1024
/** Segments per value: the counter is 32 bits. */
export const MAX_SEGMENTS = 2 ** 32
/** Key ids: what may appear in a header and in `XCOM_ENCRYPTION_KEYS`. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

const SALT_OFFSET = 10 + KEY_ID_FIELD
const PREFIX_OFFSET = SALT_OFFSET + SALT_SIZE

/** What a header holds. */
export interface Header {
  /** Plaintext bytes per segment. */
  segmentSize: number
  /** The id of the master key. */
  keyId: string
  /** The HKDF salt (32 bytes). */
  salt: Uint8Array
  /** The first 7 bytes of every segment's nonce. */
  noncePrefix: Uint8Array
  /** The header's own bytes, the additional data of every segment. */
  bytes: Uint8Array
}

/** The header bytes for these parameters (the key id is checked by the caller). */
export function writeHeader(
  segmentSize: number,
  keyId: string,
  salt: Uint8Array,
  noncePrefix: Uint8Array,
): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE)
  const view = new DataView(bytes.buffer)
  bytes.set(MAGIC, 0)
  bytes[4] = VERSION
  view.setUint32(5, segmentSize)
  const id = new TextEncoder().encode(keyId)
  bytes[9] = id.byteLength
  bytes.set(id, 10)
  bytes.set(salt, SALT_OFFSET)
  bytes.set(noncePrefix, PREFIX_OFFSET)
  return bytes
}

/** Parses and checks the header at the start of `data`; the bytes returned are a copy. @throws E_CORRUPT */
export function readHeader(data: Uint8Array, uri?: string): Header {
  if (data.byteLength < HEADER_SIZE) {
    throw corrupt(`the value is ${data.byteLength} bytes, shorter than the ${HEADER_SIZE}-byte header`, uri)
  }
  const bytes = data.slice(0, HEADER_SIZE)
  if (MAGIC.some((byte, index) => bytes[index] !== byte))
    throw corrupt('it does not start with the magic bytes of xcom encryption', uri)
  if (bytes[4] !== VERSION) throw corrupt(`its format version ${bytes[4]} is not ${VERSION}`, uri)
  const segmentSize = new DataView(bytes.buffer).getUint32(5)
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw corrupt(`its segment size ${segmentSize} is outside ${MIN_SEGMENT_SIZE}..${MAX_SEGMENT_SIZE}`, uri)
  }
  const idLength = bytes[9] as number
  const padding = bytes.subarray(10 + idLength, SALT_OFFSET)
  const keyId = String.fromCharCode(...bytes.subarray(10, 10 + idLength))
  if (idLength > KEY_ID_FIELD || !KEY_ID_PATTERN.test(keyId) || padding.some((byte) => byte !== 0)) {
    throw corrupt('its key id field is malformed', uri)
  }
  return {
    segmentSize,
    keyId,
    salt: bytes.subarray(SALT_OFFSET, PREFIX_OFFSET),
    noncePrefix: bytes.subarray(PREFIX_OFFSET, HEADER_SIZE),
    bytes,
  }
}

/** Segments of a plaintext of `size` bytes: at least one, the final one, which is empty only for empty plaintext. */
export function segmentCount(size: number, segmentSize: number): number {
  return size === 0 ? 1 : Math.ceil(size / segmentSize)
}

/** Encrypted bytes for `size` plaintext bytes. @throws E_CONFIG for a bad size, E_TOO_LARGE past 2^32 segments */
export function encryptedLength(size: number, segmentSize: number): number {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new XComError('E_CONFIG', `encryptedSize: ${size} is not a size in bytes (a non-negative integer).`)
  }
  const count = segmentCount(size, segmentSize)
  checkCount(count)
  return HEADER_SIZE + size + count * TAG_SIZE
}

/** @throws E_TOO_LARGE when a value needs more segments than the 32-bit counter numbers. */
export function checkCount(count: number): void {
  if (count > MAX_SEGMENTS) {
    throw new XComError(
      'E_TOO_LARGE',
      `The value needs ${count} segments, more than the ${MAX_SEGMENTS} the segment counter allows; use a larger ` +
        'segmentSize.',
    )
  }
}

/**
 * The segments of `body` encrypted bytes (those after the header): all full but the last, which is the final one
 * and holds at least its tag; an empty final segment is valid only alone.
 * @throws E_CORRUPT when the bytes cannot be such a sequence (they end inside a segment or before any)
 */
export function bodyLayout(
  body: number,
  segmentSize: number,
  uri?: string,
): { count: number; plainSize: number } {
  const full = segmentSize + TAG_SIZE
  const count = Math.max(1, Math.ceil(body / full))
  const last = body - (count - 1) * full
  if (body === 0) throw corrupt('it ends right after the header, before its final segment (truncated)', uri)
  if (last < TAG_SIZE || (last === TAG_SIZE && count > 1)) {
    throw corrupt(`it ends inside segment ${count - 1} (truncated or extended)`, uri)
  }
  if (count > MAX_SEGMENTS) throw corrupt(`it has more than ${MAX_SEGMENTS} segments`, uri)
  return { count, plainSize: body - count * TAG_SIZE }
}
