import {
  type BaseXComBackendOptions,
  type Codec,
  type CodecResolver,
  type Encryption,
  type ObjectStore,
  XComError,
} from '@xcom/core'
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, isChecksumAlgorithm } from './checksum.ts'

/** The default {@link ObjectStoreXComBackendOptions.maxValueSize}: 2 GiB. */
export const DEFAULT_MAX_VALUE_SIZE = 2 ** 31

/** Options of `ObjectStoreXComBackend`. */
export interface ObjectStoreXComBackendOptions extends BaseXComBackendOptions {
  /** Where values larger than the threshold go. */
  store: ObjectStore
  /**
   * Values whose size is at most this many bytes stay in the metadata database; larger ones go to the store. The size
   * is that of the serialized JSON text in UTF-8, or the byte count of a binary value, before compression. -1 keeps
   * everything in the database; 0 sends everything but empty values to the store.
   * @default -1
   */
  threshold?: number
  /**
   * Compress stored objects with this codec (e.g. `gzip()` from `@xcom/compression`); a codec named `none` means no
   * compression. @default no compression
   */
  compression?: Codec
  /**
   * Finds the codec of an object written with another codec than `compression` (by the name its reference records),
   * and of objects other tools wrote (`readObject`: by key suffix or magic bytes).
   * @default `codecs` of `@xcom/compression`, imported only when a codec must be found that way (install it then)
   */
  codecs?: CodecResolver
  /**
   * Keep a value compressed only when `compressedSize / size` is at most this ratio (0.9: compression must save at
   * least 10%, the rule of `@xcom/compression`'s `compressIfWorthIt`); otherwise the value is stored uncompressed and
   * its reference records `compressionSkipped`. Stream values decide on their first MiB. From 0 (exclusive) to 1.
   * @default 0.9
   */
  minCompressionRatio?: number
  /**
   * Refuse values larger than this many bytes (before compression) with `E_TOO_LARGE`, on push and on pull; a
   * reference recording a larger size is refused before anything is downloaded, so a forged size cannot make a read
   * inflate without bound. Raise it (up to `Infinity`) for larger streamed values.
   * @default 2 GiB ({@link DEFAULT_MAX_VALUE_SIZE})
   */
  maxValueSize?: number
  /**
   * The checksum new references record (reads verify whichever one a reference names). `crc32` detects accidental
   * damage; `sha256` also pins the content, so that someone who can write to the bucket but not to the metadata
   * database cannot swap an object unnoticed. See {@link ChecksumAlgorithm}.
   * @default 'crc32'
   */
  checksum?: ChecksumAlgorithm
  /**
   * Encrypt every stored object with it, after compression (e.g. `aesGcmStream({ keys: keysFromEnv() })` from
   * `@xcom/encryption`). Unlike compression it is never skipped for a value; objects of other records or XComs do not
   * decrypt. Values it wrote need it (with their key) to be read.
   * @default no encryption
   */
  encryption?: Encryption
  /**
   * Encrypt the values kept in the metadata database too (the database is shared and copied as well).
   * @default false
   */
  encryptInline?: boolean
  /** The clock the sweep compares object ages with. @default () => new Date() */
  now?: () => Date
}

/**
 * The options of a backend, checked, with every default applied (`compression`, `codecs` and `encryption` may stay unset; a codec
 * named `none` is unset): what the writer and the reader work from.
 */
export type BackendSettings = Readonly<
  Required<Omit<ObjectStoreXComBackendOptions, 'serializer' | 'compression' | 'codecs' | 'encryption'>> &
    Pick<ObjectStoreXComBackendOptions, 'compression' | 'codecs' | 'encryption'>
>

/**
 * Checks the options of `new ObjectStoreXComBackend(...)` and applies the defaults.
 * @throws XComError `E_CONFIG` for a missing store or an invalid threshold, codec, resolver, ratio, maximum size or
 * checksum.
 */
export function resolveOptions(options: ObjectStoreXComBackendOptions): BackendSettings {
  const {
    store,
    threshold = -1,
    compression,
    codecs,
    minCompressionRatio = 0.9,
    maxValueSize = DEFAULT_MAX_VALUE_SIZE,
    checksum = 'crc32',
    encryption,
    encryptInline = false,
    now = () => new Date(),
  } = options ?? {}
  const fail = (why: string): never => {
    throw new XComError('E_CONFIG', `new ObjectStoreXComBackend(...): ${why}.`)
  }
  if (!store || typeof store.put !== 'function' || typeof store.get !== 'function')
    fail('`store` must be an ObjectStore, e.g. new FileObjectStore({ root })')
  if (!Number.isSafeInteger(threshold) || threshold < -1)
    fail('`threshold` must be an integer >= -1 (-1: everything inline, 0: everything in the store)')
  if (
    compression !== undefined &&
    (typeof compression.compress !== 'function' || typeof compression.name !== 'string')
  )
    fail('`compression` must be a Codec, e.g. gzip() from @xcom/compression')
  if (
    codecs !== undefined &&
    (typeof codecs?.byName !== 'function' ||
      typeof codecs.bySuffix !== 'function' ||
      typeof codecs.byMagic !== 'function')
  )
    fail('`codecs` must be a CodecResolver (byName, bySuffix, byMagic), e.g. codecs from @xcom/compression')
  if (typeof minCompressionRatio !== 'number' || !(minCompressionRatio > 0 && minCompressionRatio <= 1))
    fail('`minCompressionRatio` must be a number in (0, 1], e.g. 0.9')
  if (
    !(maxValueSize === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxValueSize) && maxValueSize >= 0))
  )
    fail('`maxValueSize` must be a size in bytes')
  if (
    encryption !== undefined &&
    (typeof encryption?.encrypt !== 'function' ||
      typeof encryption.decryptStream !== 'function' ||
      typeof encryption.name !== 'string')
  )
    fail(
      '`encryption` must be an Encryption, e.g. aesGcmStream({ keys: keysFromEnv() }) from @xcom/encryption',
    )
  if (typeof encryptInline !== 'boolean') fail('`encryptInline` must be true or false')
  if (encryptInline && !encryption) fail('`encryptInline` needs `encryption`')
  if (!isChecksumAlgorithm(checksum))
    fail(`\`checksum\` must be one of ${Object.keys(CHECKSUM_ALGORITHMS).join(', ')}`)
  return {
    store,
    threshold,
    compression: compression?.name === 'none' ? undefined : compression,
    codecs,
    minCompressionRatio,
    maxValueSize,
    checksum,
    encryption,
    encryptInline,
    now,
  }
}

/**
 * Refuses a value over `maxValueSize`.
 * @throws XComError `E_TOO_LARGE`, naming `uri` (and the size it holds) when the value is read from there.
 */
export function checkValueSize(size: number, maxValueSize: number, uri?: string): void {
  if (size > maxValueSize) {
    throw new XComError(
      'E_TOO_LARGE',
      `The value is larger than maxValueSize (${maxValueSize} bytes)${uri ? `: ${uri} holds ${size} bytes` : ''}. Push a smaller value or raise maxValueSize.`,
      uri ? { uri } : {},
    )
  }
}
