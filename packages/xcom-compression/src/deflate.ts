import type { Bytes } from '@xcom/core'
import { adler32 } from './checksum.ts'
import { deflateSettings, ENGINE_CHUNK, nativeCodec } from './codec.ts'
import { type DecodeFrame, portableFramedCodec } from './framing.ts'
import type { CompressionCodec, DeflateOptions } from './types.ts'

/**
 * DEFLATE in the zlib format (RFC 1950, what HTTP `Content-Encoding: deflate` and `CompressionStream('deflate')`
 * mean), suffix `.zz` (as `pigz -z` writes). Its Adler-32 is verified on reading; data after the stream is
 * `E_CORRUPT`. Streams needing a preset dictionary are not supported (`E_CORRUPT`).
 * @throws XComError `E_CONFIG` for a level outside 0-9 or an unusable `implementation`.
 */
export function deflate(options: DeflateOptions = {}): CompressionCodec {
  const { level, native } = deflateSettings('deflate', options)
  if (native !== undefined) {
    return nativeCodec({
      name: 'deflate',
      suffix: '.zz',
      compressor: () => native.createDeflate({ level, chunkSize: ENGINE_CHUNK }),
      decompressor: () => native.createInflate({ chunkSize: ENGINE_CHUNK }),
    })
  }
  // FLEVEL as zlib writes it: 0 fastest, 1 fast, 2 default, 3 best; FCHECK makes the header a multiple of 31.
  const flevel = level <= 1 ? 0 : level <= 5 ? 1 : level === 6 ? 2 : 3
  const flags = (flevel << 6) | (31 - (((0x78 << 8) | (flevel << 6)) % 31))
  return portableFramedCodec({
    name: 'deflate',
    suffix: '.zz',
    level,
    encode: {
      header: Uint8Array.of(0x78, flags),
      checksum: adler32,
      initialCheck: 1,
      trailer: ({ check }) =>
        Uint8Array.of(check >>> 24, (check >>> 16) & 0xff, (check >>> 8) & 0xff, check & 0xff),
    },
    decode: ZLIB_FRAME,
  })
}

/** The same codec as {@link deflate} (name `deflate`), for those who know the format as "zlib". */
export const zlib: typeof deflate = (options) => deflate(options)

/** zlib stream layout as the JavaScript reader sees it. */
const ZLIB_FRAME: DecodeFrame = {
  headerLength(data, failures) {
    if (data.length < 2) return undefined
    const cmf = data[0]!
    const flg = data[1]!
    if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) {
      throw failures.corrupt('it does not start with a zlib header')
    }
    if (flg & 0x20) throw failures.corrupt('it needs a preset dictionary, which is not supported')
    return 2
  },
  maxHeaderLength: 2,
  trailerLength: 4,
  checksum: adler32,
  initialCheck: 1,
  verifyTrailer(trailer: Bytes, { check }, failures) {
    const recorded = ((trailer[0]! << 24) | (trailer[1]! << 16) | (trailer[2]! << 8) | trailer[3]!) >>> 0
    if (recorded !== check) {
      throw failures.corrupt('the Adler-32 of the decompressed data does not match the one recorded')
    }
  },
  multiMember: false,
}
