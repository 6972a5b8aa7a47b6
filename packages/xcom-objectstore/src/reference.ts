import {
  type Codec,
  type DatabaseIdentity,
  type StoredValue,
  type XComContext,
  XComError,
  type XComReference,
} from '@xcom/core'
import type { Expected } from './bytes.ts'
import { algorithmOf } from './checksum.ts'
import { DATABASE_META } from './claim.ts'
import type { CodecLookup } from './codecs.ts'
import { objectKeyOf } from './keys.ts'
import { checkValueSize } from './options.ts'

/** The reference `ObjectStoreXComBackend` writes in the metadata database for a value held in the store. */
export interface ObjectReference extends XComReference {
  /** `<store url>/<objectKey>`. */
  uri: string
  /** The object's key, relative to the store. */
  objectKey: string
  /** Size of the value in bytes, before compression. */
  size: number
  /** Size of the object in bytes, as stored. */
  storedSize: number
  /** The codec name, or `"none"`. */
  codec: string
  /** `json`: UTF-8 JSON text from the serializer; `bytes`: a binary value's raw bytes. */
  format: 'json' | 'bytes'
  /** `crc32:<8 hex digits>` or `sha256:<64 hex digits>` of the stored bytes. */
  checksum: string
  /** When the object was written (ISO 8601). */
  createdAt: string
  /** The encryption format of the object (after compression), e.g. `aes256gcm-hkdf-stream-v1`; absent: not encrypted. */
  encryption?: string
  /** The id of the key the object is encrypted with (its header names it too). */
  keyId?: string
  /** The configured codec that was not used because it did not shrink this value enough. */
  compressionSkipped?: string
  /**
   * True when the JSON text holds no envelope (nothing in the value needed encoding): once its checksum matches, it is
   * read back with `JSON.parse` alone, skipping the decoding walk.
   */
  plainJson?: boolean
}

/** Object metadata names (lowercase ASCII letters only, accepted by every store). Identity values are percent-encoded. */
export const META = {
  dagId: 'xcomdagid',
  runId: 'xcomrunid',
  taskId: 'xcomtaskid',
  mapIndex: 'xcommapindex',
  key: 'xcomkey',
  recordId: 'xcomrecordid',
  format: 'xcomformat',
  codec: 'xcomcodec',
  size: 'xcomsize',
  checksum: 'xcomchecksum',
  createdAt: 'xcomcreatedat',
  encryption: 'xcomencryption',
  keyId: 'xcomkeyid',
} as const

/** What an object's metadata says about it, beyond the XCom it belongs to. */
export interface ObjectFacts {
  format: 'json' | 'bytes'
  codec: Codec | undefined
  createdAt: string
  /** Size of the value, when known before the upload. */
  size?: number | undefined
  /** Checksum of the stored bytes, when known before the upload. */
  checksum?: string | undefined
  /** The encryption format and key id, when the object is encrypted. */
  encryption?: { name: string; keyId: string } | undefined
}

/**
 * The metadata that makes an object self-describing: its database, XCom identity, record, format, codec, and the size
 * and checksum when they are known before the upload (`readObject` verifies with them).
 */
export function objectMetadata(
  ctx: XComContext,
  database: DatabaseIdentity,
  facts: ObjectFacts,
): Record<string, string> {
  return {
    [DATABASE_META]: database.id,
    [META.dagId]: encodeURIComponent(ctx.dagId),
    [META.runId]: encodeURIComponent(ctx.runId),
    [META.taskId]: encodeURIComponent(ctx.taskId),
    [META.mapIndex]: String(ctx.mapIndex),
    [META.key]: encodeURIComponent(ctx.key),
    [META.recordId]: ctx.recordId,
    [META.format]: facts.format,
    [META.codec]: facts.codec?.name ?? 'none',
    [META.createdAt]: facts.createdAt,
    ...(facts.size === undefined ? {} : { [META.size]: String(facts.size) }),
    ...(facts.checksum === undefined ? {} : { [META.checksum]: facts.checksum }),
    ...(facts.encryption === undefined
      ? {}
      : { [META.encryption]: facts.encryption.name, [META.keyId]: facts.encryption.keyId }),
  }
}

/**
 * Validates a stored reference, checks that it names this record's own object, and finds its codec.
 * @throws XComError `E_CORRUPT` when a field is missing or malformed or the key is not this record's;
 * `E_TOO_LARGE` over `maxValueSize` (before anything is read); `E_UNKNOWN_CODEC`.
 */
export async function checkReference(
  stored: Extract<StoredValue, { kind: 'reference' }>,
  ctx: XComContext,
  codecs: CodecLookup,
  maxValueSize: number,
): Promise<{ ref: ObjectReference; codec: Codec | undefined }> {
  const ref = stored.ref
  const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0
  const valid =
    typeof ref.uri === 'string' &&
    count(ref.size) &&
    count(ref.storedSize) &&
    typeof ref.codec === 'string' &&
    (ref.format === 'json' || ref.format === 'bytes') &&
    (ref.plainJson === undefined || typeof ref.plainJson === 'boolean') &&
    algorithmOf(ref.checksum) !== undefined &&
    (ref.encryption === undefined || (typeof ref.encryption === 'string' && typeof ref.keyId === 'string')) &&
    // An uncompressed, unencrypted object holds exactly the value: its sizes must agree.
    (ref.codec !== 'none' || ref.encryption !== undefined || ref.size === ref.storedSize)
  if (!valid) {
    throw new XComError(
      'E_CORRUPT',
      `The reference to ${String(ref.uri)} is malformed (it needs size, storedSize, codec, format and a crc32 or sha256 checksum, and equal sizes when uncompressed): the row was not written by ObjectStoreXComBackend or was damaged.`,
      { uri: typeof ref.uri === 'string' ? ref.uri : undefined },
    )
  }
  await ownedKey(ref, ctx, codecs)
  checkValueSize(ref.size as number, maxValueSize, ref.uri)
  const checked = ref as ObjectReference
  return { ref: checked, codec: await codecs.named(checked.codec, `Reading ${checked.uri}`) }
}

/**
 * The object key of a reference, if it is exactly the key the backend derives for the record (identity, record id,
 * format and codec): a forged key (`<own key>/../<other key>`, another XCom's key) is refused, never resolved.
 * @throws XComError `E_CORRUPT` naming the reference (nothing is read or deleted).
 */
export async function ownedKey(ref: XComReference, ctx: XComContext, codecs: CodecLookup): Promise<string> {
  const format = ref.format === 'json' || ref.format === 'bytes' ? ref.format : undefined
  const codec =
    format && typeof ref.codec === 'string'
      ? await codecs.named(ref.codec, `Reading ${String(ref.uri)}`)
      : null
  // A record id that cannot be part of a key (a damaged row) owns no object either.
  const derived =
    format && codec !== null ? keyOrUndefined(() => objectKeyOf(ctx, format, codec?.suffix ?? '')) : undefined
  if (derived === undefined || ref.objectKey !== derived) {
    throw new XComError(
      'E_CORRUPT',
      `The reference ${JSON.stringify(String(ref.uri))} does not name the object of this XCom (it was not written by ObjectStoreXComBackend for this record): nothing was read or deleted.`,
      { uri: typeof ref.uri === 'string' ? ref.uri : undefined },
    )
  }
  return derived
}

/** What reading the object of `ref` must produce: its stored size and checksum. */
export function expectedOf(ref: ObjectReference): Expected {
  return { size: ref.storedSize, checksum: ref.checksum, uri: ref.uri }
}

function keyOrUndefined(derive: () => string): string | undefined {
  try {
    return derive()
  } catch {
    return undefined
  }
}
