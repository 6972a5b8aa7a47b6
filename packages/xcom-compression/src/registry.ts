import type { Bytes, CodecResolver } from '@xcom/core'
import { XComError } from '@xcom/core'
import { u32 } from './bytes.ts'
import { deflate } from './deflate.ts'
import { gzip } from './gzip.ts'
import { none } from './none.ts'
import type { CompressionCodec, Implementation } from './types.ts'
import { zip } from './zip.ts'
import { zstd } from './zstd.ts'

/** Every name {@link codecByName} accepts (`zlib` is another name of `deflate`). */
export const CODEC_NAMES = ['gzip', 'deflate', 'zlib', 'zip', 'zstd', 'none'] as const

/** One of {@link CODEC_NAMES}. */
export type CodecName = (typeof CODEC_NAMES)[number]

/** Options of {@link codecByName}, given to the codec factory. */
export interface CodecByNameOptions {
  /** Compression level (ignored by `none`). @default the codec's own default */
  level?: number
  /** @default 'auto' */
  implementation?: Implementation
}

/** Formats recognised but not implemented, so that a reader says so instead of treating them as uncompressed. */
const UNSUPPORTED: Record<string, string> = {
  bz2: 'bzip2',
  bzip2: 'bzip2',
  xz: 'xz',
  lzma: 'lzma',
  lz4: 'lz4',
  sz: 'snappy',
  snappy: 'snappy',
  br: 'brotli',
  brotli: 'brotli',
  z: 'Unix compress',
}

/**
 * The codec with this name (case-insensitive), e.g. the value of `XCOM_OBJECTSTORAGE_COMPRESSION`. `none` and the
 * empty string (an unset setting) mean no compression.
 * @throws XComError `E_UNKNOWN_CODEC` for an unknown name, listing the known ones, or for `zstd` on a runtime
 * without it (saying which Node.js is needed); `E_CONFIG` for a bad option.
 */
export function codecByName(name: string, options: CodecByNameOptions = {}): CompressionCodec {
  const key = String(name).trim().toLowerCase()
  switch (key) {
    case 'gzip':
      return gzip(options)
    case 'deflate':
    case 'zlib':
      return deflate(options)
    case 'zip':
      return zip(options)
    case 'zstd':
      return zstd(options)
    case 'none':
    case '':
      return none()
  }
  const format = UNSUPPORTED[key]
  throw new XComError(
    'E_UNKNOWN_CODEC',
    `Unknown compression codec ${JSON.stringify(name)}${format ? ` (${format} is not implemented)` : ''}: the ` +
      `known codecs are ${CODEC_NAMES.join(', ')}. Set the compression option or XCOM_OBJECTSTORAGE_COMPRESSION ` +
      'to one of them.',
  )
}

/**
 * The codec a file name, object key or suffix (`.gz`, `gz`, `data.json.gz`) says was used: `.gz` gzip, `.zz` deflate,
 * `.zip` zip, `.zst` zstd; `undefined` when the last suffix names no compression (`.json`, or no suffix at all).
 * @throws XComError `E_UNKNOWN_CODEC` for the suffix of a known but unsupported format (`.bz2`, `.xz`, `.lz4`...),
 * and for `.zst` on a runtime without zstd.
 */
export function codecForSuffix(suffixOrKey: string): CompressionCodec | undefined {
  const text = String(suffixOrKey).toLowerCase()
  const suffix = text.slice(text.lastIndexOf('.') + 1)
  switch (suffix) {
    case 'gz':
      return gzip()
    case 'zz':
      return deflate()
    case 'zip':
      return zip()
    case 'zst':
      return zstd()
  }
  const format = UNSUPPORTED[suffix]
  if (format === undefined) return undefined
  throw new XComError(
    'E_UNKNOWN_CODEC',
    `Objects with the suffix .${suffix} (${format}) cannot be read: ${format} is not implemented. The supported ` +
      'suffixes are .gz, .zz, .zip and .zst.',
  )
}

/**
 * The codec whose magic bytes start `data` (pass at least its first 16 bytes): gzip `1f 8b`, zstd `28 b5 2f fd`,
 * zip `PK 03 04` (or an empty archive's `PK 05 06`), zlib (a valid zlib header). `undefined` when none matches: the
 * data is most likely not compressed.
 * @throws XComError `E_UNKNOWN_CODEC` for bzip2, xz or lz4 data (recognised, not implemented), and for zstd data
 * on a runtime without zstd.
 */
export function detectCodec(data: Bytes): CompressionCodec | undefined {
  const b = data
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return gzip()
  if (b.length >= 4 && u32(b, 0) === 0xfd2fb528) return zstd()
  if (
    b.length >= 4 &&
    b[0] === 0x50 &&
    b[1] === 0x4b &&
    ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6))
  ) {
    return zip()
  }
  const unsupported =
    b.length >= 4 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68 && b[3]! >= 0x31 && b[3]! <= 0x39
      ? 'bzip2'
      : b.length >= 6 && [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00].every((byte, i) => b[i] === byte)
        ? 'xz'
        : b.length >= 4 && u32(b, 0) === 0x184d2204
          ? 'lz4'
          : undefined
  if (unsupported !== undefined) {
    throw new XComError(
      'E_UNKNOWN_CODEC',
      `The data is ${unsupported}-compressed, which is not implemented; the supported codecs are gzip, deflate, ` +
        'zip and zstd.',
    )
  }
  if (b.length >= 2 && (b[0]! & 0x0f) === 8 && b[0]! >> 4 <= 7 && ((b[0]! << 8) | b[1]!) % 31 === 0) {
    if (!(b[1]! & 0x20)) return deflate()
  }
  return undefined
}

/**
 * The {@link CodecResolver} of this package: codecs by name, by an object key's suffix and by magic bytes.
 * `@xcom/objectstore` loads it when a value names a codec its backend was not given.
 */
export const codecs: CodecResolver = {
  byName: (name) => codecByName(name),
  bySuffix: codecForSuffix,
  byMagic: detectCodec,
}
