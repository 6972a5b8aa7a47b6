import type { Bytes } from '@xcom/core'
import { put32, u16, u32 } from './bytes.ts'
import { crc32Portable } from './checksum.ts'
import { deflateSettings, ENGINE_CHUNK, nativeCodec } from './codec.ts'
import { type DecodeFrame, portableFramedCodec } from './framing.ts'
import type { CompressionCodec, DeflateOptions } from './types.ts'

/** Options of {@link gzip}: those of every DEFLATE-based codec, `level` (0-9, default 6) and `implementation`. */
export type GzipOptions = DeflateOptions

/**
 * gzip (RFC 1952), suffix `.gz`: the format of `gzip`/`gunzip`, HTTP `Content-Encoding: gzip` and Airflow's
 * `xcom_objectstorage_compression = gzip`. Reading accepts several concatenated members (as gunzip does) and checks
 * each member's CRC-32 and length; any other data after the last member is `E_CORRUPT`.
 * @throws XComError `E_CONFIG` for a level outside 0-9 or an unusable `implementation`.
 */
export function gzip(options: GzipOptions = {}): CompressionCodec {
  const { level, native } = deflateSettings('gzip', options)
  if (native !== undefined) {
    return nativeCodec({
      name: 'gzip',
      suffix: '.gz',
      compressor: () => native.createGzip({ level, chunkSize: ENGINE_CHUNK }),
      decompressor: () => native.createGunzip({ chunkSize: ENGINE_CHUNK }),
    })
  }
  return portableFramedCodec({
    name: 'gzip',
    suffix: '.gz',
    level,
    encode: {
      // No file name, no modification time (so output depends on the data only), OS "unknown".
      header: Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level >= 9 ? 2 : level <= 1 ? 4 : 0, 0xff),
      checksum: crc32Portable,
      initialCheck: 0,
      trailer: ({ check, size }) => {
        const trailer = new Uint8Array(8)
        put32(trailer, 0, check)
        put32(trailer, 4, size % 2 ** 32)
        return trailer
      },
    },
    decode: GZIP_FRAME,
  })
}

const FTEXT_UNUSED_BITS = 0xe0
const FHCRC = 2
const FEXTRA = 4
const FNAME = 8
const FCOMMENT = 16

/** gzip member layout as the JavaScript reader sees it. */
const GZIP_FRAME: DecodeFrame = {
  headerLength(data, failures) {
    if ((data.length > 0 && data[0] !== 0x1f) || (data.length > 1 && data[1] !== 0x8b)) {
      throw failures.corrupt('it does not start with the gzip signature (1f 8b)')
    }
    if (data.length < 10) return undefined
    if (data[2] !== 8) throw failures.corrupt(`its compression method is ${data[2]}, not deflate (8)`)
    const flags = data[3]!
    if (flags & FTEXT_UNUSED_BITS) throw failures.corrupt('reserved gzip header flags are set')
    let at = 10
    if (flags & FEXTRA) {
      if (data.length < at + 2) return undefined
      at += 2 + u16(data, at)
    }
    for (const flag of [FNAME, FCOMMENT]) {
      if (!(flags & flag)) continue
      const zero = at < data.length ? data.indexOf(0, at) : -1
      if (zero < 0) return undefined
      at = zero + 1
    }
    if (flags & FHCRC) {
      if (data.length < at + 2) return undefined
      if ((crc32Portable(data.subarray(0, at), 0) & 0xffff) !== u16(data, at)) {
        throw failures.corrupt('the gzip header checksum does not match')
      }
      at += 2
    }
    return data.length < at ? undefined : at
  },
  maxHeaderLength: 1024 * 1024,
  trailerLength: 8,
  checksum: crc32Portable,
  initialCheck: 0,
  verifyTrailer(trailer: Bytes, { check, size }, failures) {
    if (u32(trailer, 0) !== check) {
      throw failures.corrupt('the CRC-32 of the decompressed data does not match the one recorded')
    }
    if (u32(trailer, 4) !== size % 2 ** 32) {
      throw failures.corrupt('the length of the decompressed data does not match the one recorded')
    }
  },
  multiMember: true,
}
