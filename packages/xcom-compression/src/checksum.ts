import type { Bytes } from '@xcom/core'
import type { ZlibModule } from './runtime.ts'

/** A running checksum: the checksum of everything so far given the previous value and the next bytes. */
export type Checksum = (data: Bytes, previous: number) => number

/** Eight CRC-32 tables (slicing-by-8): table k maps a byte to its CRC contribution k positions ahead. */
const CRC_TABLES = (() => {
  const tables = new Int32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    tables[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]!
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff]! ^ (c >>> 8)
      tables[k * 256 + n] = c
    }
  }
  return tables
})()

/** CRC-32 (ISO 3309, as gzip and zip use it) in plain JavaScript. */
export const crc32Portable: Checksum = (data, previous) => {
  const t = CRC_TABLES
  let crc = ~previous
  let i = 0
  const fast = data.length - 8
  for (; i <= fast; i += 8) {
    const a = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!
  }
  for (; i < data.length; i++) crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}

/** CRC-32 from node:zlib when given (native speed), otherwise {@link crc32Portable}. */
export function crc32For(zlib: ZlibModule | undefined): Checksum {
  const native = zlib?.crc32
  return typeof native === 'function' ? (data, previous) => native(data, previous) : crc32Portable
}

/** Adler-32 (RFC 1950, the zlib format's checksum). Start from 1. */
export const adler32: Checksum = (data, previous) => {
  let a = previous & 0xffff
  let b = previous >>> 16
  for (let i = 0; i < data.length; ) {
    // 5552 is the most bytes that can be summed before b overflows 2^32 (as zlib does).
    const end = Math.min(i + 5552, data.length)
    for (; i < end; i++) {
      a += data[i]!
      b += a
    }
    a %= 65521
    b %= 65521
  }
  return ((b << 16) | a) >>> 0
}
