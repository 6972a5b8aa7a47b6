/**
 * Values for the workloads: seeded, each one unique (it carries its tag), mixing small inline JSON, offloaded
 * compressible JSON and offloaded random-ish binary Buffers, plus the fingerprint that tells them apart on pull.
 */
import { createHash, randomFillSync } from 'node:crypto'
import { promisify } from 'node:util'
import { gunzip, gzip } from 'node:zlib'
import { type Bytes, type Codec, XComError } from '@xcom/core'

/** A seeded PRNG in [0, 1) (mulberry32): the same seed gives the same workload. */
export function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [min, max]. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

/** How a value is stored: inline in the database, or offloaded as JSON (compressible) or raw bytes (not). */
export type ValueShape = 'inline' | 'offloadedJson' | 'offloadedBytes'

// One random MiB, sliced at shifting offsets: random-ish bytes without generating megabytes per value.
const POOL = randomFillSync(Buffer.allocUnsafe(1 << 20))

/** A Buffer of `size` random-ish bytes whose first 16 bytes are `tag`, so that no two values are equal. */
export function randomishBytes(tag: string, size: number, offset = 0): Buffer {
  const out = Buffer.allocUnsafe(size)
  let written = 0
  let from = offset % POOL.length
  while (written < size) {
    const n = Math.min(size - written, POOL.length - from)
    POOL.copy(out, written, from, from + n)
    written += n
    from = 0
  }
  out.write(tag.padEnd(16, '.').slice(0, 16), 0, 'latin1')
  return out
}

/**
 * A unique value of `shape`: inline values stay under 1 KiB, offloaded JSON is 2-40 KiB of repetitive text
 * (gzip shrinks it), offloaded bytes are 2-40 KiB of random-ish bytes (compression is skipped for them).
 */
export function makeValue(shape: ValueShape, tag: string, random: () => number): unknown {
  if (shape === 'inline')
    return { tag, n: between(random, 0, 1e6), note: 'x'.repeat(between(random, 0, 400)) }
  if (shape === 'offloadedJson') {
    const rows = between(random, 60, 1200)
    return { tag, rows: Array.from({ length: rows }, (_, index) => `${tag}-row-${index}`) }
  }
  return randomishBytes(tag, between(random, 2048, 40 * 1024), between(random, 0, POOL.length))
}

/** What identifies a value on pull: SHA-1 of its bytes (binary) or of its JSON text. */
export function fingerprint(value: unknown): string {
  const hash = createHash('sha1')
  if (value instanceof Uint8Array) hash.update('b:').update(value)
  else hash.update('j:').update(JSON.stringify(value))
  return hash.digest('base64')
}

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

/**
 * A gzip {@link Codec} on node:zlib, so that offloaded JSON is compressed without depending on @xcom/compression
 * (not a dependency of this package). Only whole-value methods are exercised by the backend for buffered values.
 */
export function gzipCodec(): Codec {
  return {
    name: 'gzip',
    suffix: '.gz',
    compress: async (data: Bytes) => new Uint8Array(await gzipAsync(data, { level: 1 })),
    async decompress(data: Bytes, options?: { maxSize?: number }) {
      let out: Buffer
      try {
        out = await gunzipAsync(data, options?.maxSize ? { maxOutputLength: options.maxSize } : {})
      } catch (error) {
        const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
        throw new XComError(
          tooLarge ? 'E_TOO_LARGE' : 'E_CORRUPT',
          `gunzip failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        )
      }
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    },
    compressStream: () => new CompressionStream('gzip') as unknown as TransformStream<Bytes, Bytes>,
    decompressStream: () => new DecompressionStream('gzip') as unknown as TransformStream<Bytes, Bytes>,
  }
}
