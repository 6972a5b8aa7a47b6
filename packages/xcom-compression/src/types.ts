import type { Bytes, Codec, DecompressOptions } from '@xcom/core'

/**
 * Which compressor a codec runs on.
 * - `native`: the runtime's node:zlib (Node.js, Deno, Bun, edge runtimes with Node compatibility). Fastest.
 * - `portable`: pure JavaScript (fflate), for runtimes without node:zlib such as browsers.
 * - `auto`: `native` when node:zlib is present, otherwise `portable`.
 */
export type Implementation = 'auto' | 'native' | 'portable'

/** Options of the DEFLATE-based codecs: `deflate()`, `gzip()` (`GzipOptions`) and `zip()` (`ZipOptions` adds to them). */
export interface DeflateOptions {
  /** 0 (store only) to 9 (smallest output, slowest). @default 6 */
  level?: number
  /** Which compressor to run on; see {@link Implementation}. @default 'auto' */
  implementation?: Implementation
}

/** Options of decompression: {@link DecompressOptions} plus where the data came from, for error messages. */
export interface CodecDecompressOptions extends DecompressOptions {
  /**
   * Fail with `E_TOO_LARGE` as soon as the output exceeds this many bytes (output of exactly `maxSize` bytes is
   * accepted). Guards against decompression bombs; the object-storage backend passes the size it recorded.
   * @default unlimited
   */
  maxSize?: number
  /** The object the data was read from (no secrets), named in error messages and set as the error's `uri`. */
  uri?: string
}

/** A {@link Codec} from this package: it also says which implementation it runs on. */
export interface CompressionCodec extends Codec {
  /** `native` (node:zlib) or `portable` (JavaScript). Both write the same format and read each other's output. */
  readonly implementation: 'native' | 'portable'
  /**
   * Decompress a whole buffer.
   * @throws XComError `E_CORRUPT` when the data is damaged, truncated, not in this format or followed by other data;
   * `E_TOO_LARGE` when the output exceeds `maxSize`; `E_UNKNOWN_CODEC` for valid data using a feature not
   * supported (an encrypted or bzip2 zip entry).
   */
  decompress(data: Bytes, options?: CodecDecompressOptions): Promise<Bytes>
  /**
   * A decompressing transform stream. It fails with the same errors as {@link CompressionCodec.decompress}, and its
   * readable side closes only once the data has been checked complete.
   */
  decompressStream(options?: CodecDecompressOptions): TransformStream<Bytes, Bytes>
}
