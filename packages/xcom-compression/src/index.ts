export {
  compressIfWorthIt,
  compressStreamIfWorthIt,
  type StreamWorthItOptions,
  type StreamWorthItResult,
  type WorthItOptions,
  type WorthItResult,
} from './adaptive.ts'
export { deflate, zlib } from './deflate.ts'
export { type GzipOptions, gzip } from './gzip.ts'
export { compressIterable, decompressIterable } from './iterable.ts'
export { none } from './none.ts'
export {
  CODEC_NAMES,
  type CodecByNameOptions,
  type CodecName,
  codecByName,
  codecForSuffix,
  codecs,
  detectCodec,
} from './registry.ts'
export type { CodecDecompressOptions, CompressionCodec, DeflateOptions, Implementation } from './types.ts'
export { type ZipOptions, zip } from './zip.ts'
export { isZstdAvailable, type ZstdOptions, zstd } from './zstd.ts'
