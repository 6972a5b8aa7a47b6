/** Re-exported from `@xcom/core` (its one implementation) for compatibility. */
export { readChunks } from '@xcom/core'
export {
  compressIfWorthIt,
  compressStreamIfWorthIt,
  type StreamWorthItOptions,
  type StreamWorthItResult,
  type WorthItOptions,
  type WorthItResult,
} from './adaptive.js'
export { type DeflateOptions, deflate, zlib } from './deflate.js'
export { type GzipOptions, gzip } from './gzip.js'
export { compressIterable, decompressIterable, toReadableStream } from './iterable.js'
export { none } from './none.js'
export {
  CODEC_NAMES,
  type CodecByNameOptions,
  type CodecName,
  codecByName,
  codecForSuffix,
  detectCodec,
} from './registry.js'
export type { CodecDecompressOptions, CompressionCodec, Implementation } from './types.js'
export { type ZipOptions, zip } from './zip.js'
export { isZstdAvailable, type ZstdOptions, zstd } from './zstd.js'
