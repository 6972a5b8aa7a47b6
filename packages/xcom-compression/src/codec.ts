import type { Bytes } from '@xcom/core'
import { asBytes } from './bytes.ts'
import { badOption, Failures } from './errors.ts'
import {
  codecStream,
  EngineTransformer,
  type OutputLimit,
  type Sink,
  SlicedTransformer,
  type TransformerFactory,
  transformAll,
  type ZlibEngine,
} from './pipeline.ts'
import { PortableDeflater } from './portable.ts'
import { resolveNative, type ZlibModule } from './runtime.ts'
import type { CodecDecompressOptions, CompressionCodec, DeflateOptions } from './types.ts'

/** What a codec is made of: its name, suffix and how to build one compression or decompression run. */
export interface CodecSpec {
  name: string
  suffix: string
  implementation: 'native' | 'portable'
  encoder: TransformerFactory
  decoder: TransformerFactory
}

/** Builds a {@link CompressionCodec} whose whole-buffer and streaming forms share one implementation. */
export function defineCodec(spec: CodecSpec): CompressionCodec {
  const { name, encoder, decoder } = spec
  const limitOf = (options: CodecDecompressOptions | undefined): OutputLimit | undefined => {
    const maxSize = options?.maxSize
    if (maxSize === undefined) return undefined
    if (typeof maxSize !== 'number' || Number.isNaN(maxSize) || maxSize < 0) {
      throw badOption(`${name} maxSize`, `expected a number of bytes >= 0, got ${String(maxSize)}`)
    }
    return { maxSize }
  }
  return Object.freeze({
    name,
    suffix: spec.suffix,
    implementation: spec.implementation,
    compress: async (data: Bytes) =>
      transformAll(encoder, asBytes(data, `${name} compress()`), new Failures(name)),
    decompress: async (data: Bytes, options?: CodecDecompressOptions) =>
      transformAll(
        decoder,
        asBytes(data, `${name} decompress()`),
        new Failures(name, options?.uri),
        limitOf(options),
      ),
    compressStream: () => codecStream(encoder, new Failures(name)),
    decompressStream: (options?: CodecDecompressOptions) =>
      codecStream(decoder, new Failures(name, options?.uri), limitOf(options)),
  })
}

/** A codec run by node:zlib engines: `compressor()` and `decompressor()` make a new engine for each run. */
export function nativeCodec(spec: {
  name: string
  suffix: string
  compressor: () => ZlibEngine
  decompressor: () => ZlibEngine
}): CompressionCodec {
  return defineCodec({
    name: spec.name,
    suffix: spec.suffix,
    implementation: 'native',
    encoder: engineEncoder(spec.compressor),
    decoder: engineDecoder(spec.decompressor),
  })
}

/** Runs a node:zlib compressor, a new one from `engine()` for each run. */
export function engineEncoder(engine: () => ZlibEngine): TransformerFactory {
  return (sink, failures) =>
    new EngineTransformer(engine(), sink, (error) => failures.fromEncoder(error), false)
}

/** Runs a node:zlib decompressor, a new one from `engine()` for each run: every input byte must be compressed data. */
export function engineDecoder(engine: () => ZlibEngine): TransformerFactory {
  return (sink, failures) =>
    new EngineTransformer(engine(), sink, (error) => failures.fromDecoder(error), true)
}

/** Raw DEFLATE at `level`: node:zlib's when `native` is given, fflate's otherwise. */
export function rawDeflater(level: number, native: ZlibModule | undefined): TransformerFactory {
  if (native !== undefined) {
    return engineEncoder(() => native.createDeflateRaw({ level, chunkSize: ENGINE_CHUNK }))
  }
  return (sink, failures) =>
    new SlicedTransformer(
      new PortableDeflater(level, (chunk) => sink.push(chunk)),
      sink,
      (error) => failures.fromEncoder(error),
      PortableDeflater.SLICE,
    )
}

/** A synchronous JavaScript reader (a new one from `reader()` for each run), fed {@link INFLATE_SLICE} bytes at a time. */
export function slicedDecoder(
  reader: (sink: Sink, failures: Failures) => { push(chunk: Bytes): void; finish(): void },
): TransformerFactory {
  return (sink, failures) =>
    new SlicedTransformer(reader(sink, failures), sink, (error) => failures.fromDecoder(error), INFLATE_SLICE)
}

/**
 * The level and runtime of a DEFLATE-based codec (gzip, deflate, zip): the level, and node:zlib when the codec runs
 * natively (`undefined`: in JavaScript).
 * @throws XComError `E_CONFIG` for a level outside 0-9 or an unusable `implementation`.
 */
export function deflateSettings(
  codec: string,
  options: DeflateOptions,
): { level: number; native: ZlibModule | undefined } {
  const level = checkLevel(codec, options.level ?? 6, 0, 9)
  return { level, native: resolveNative(options.implementation, codec) }
}

/**
 * The level, checked to be an integer in `[min, max]`.
 * @throws XComError `E_CONFIG` otherwise.
 */
export function checkLevel(codec: string, level: number, min: number, max: number): number {
  if (!Number.isInteger(level) || level < min || level > max) {
    throw badOption(`${codec} level`, `expected an integer from ${min} to ${max}, got ${String(level)}`)
  }
  return level
}

/** Bytes of input a JavaScript decompressor handles at a time: bounds the output burst of one step. */
export const INFLATE_SLICE = 32 * 1024

/** Output chunk size asked of node:zlib engines. */
export const ENGINE_CHUNK = 64 * 1024
