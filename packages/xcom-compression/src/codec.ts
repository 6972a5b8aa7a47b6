import type { Bytes } from '@xcom/core'
import { asBytes } from './bytes.ts'
import { badOption, Failures } from './errors.ts'
import {
  codecStream,
  EngineTransformer,
  type OutputLimit,
  type TransformerFactory,
  transformAll,
  type ZlibEngine,
} from './pipeline.ts'
import type { CodecDecompressOptions, CompressionCodec } from './types.ts'

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
    encoder: (sink, failures) =>
      new EngineTransformer(spec.compressor(), sink, (error) => failures.fromEncoder(error), false),
    decoder: (sink, failures) =>
      new EngineTransformer(spec.decompressor(), sink, (error) => failures.fromDecoder(error), true),
  })
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
