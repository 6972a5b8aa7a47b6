import type { ObjectBody } from '@xcom/core'
import { describe, expect, it } from 'vitest'
import { checksumOf, hashing, readVerified, streamFrom } from '../src/bytes.js'
import { chunked, pattern, rejection } from './helpers.js'

/** A body of `bytes` whose stream yields `chunks` (and whose bytes() must not be used). */
function streamBody(chunks: Uint8Array[], size: number): ObjectBody {
  return {
    key: 'k',
    size,
    lastModified: new Date(),
    metadata: {},
    stream: () =>
      streamFrom(
        (async function* () {
          yield* chunks
        })(),
      ),
    bytes: () => Promise.reject(new Error('bytes() must not be used')),
  }
}

const expected = (bytes: Uint8Array) => ({
  size: bytes.byteLength,
  checksum: checksumOf(bytes),
  uri: 'test://k',
})

describe('readVerified', () => {
  it('gathers a stream of chunks into one buffer and checks it', async () => {
    const bytes = pattern(100_000, 3)
    const chunks: Uint8Array[] = []
    for await (const chunk of chunked(bytes, 7_000)) chunks.push(chunk)
    const read = await readVerified(streamBody(chunks, bytes.byteLength), expected(bytes))
    expect(read).toEqual(bytes)
    expect(Object.getPrototypeOf(read)).toBe(Uint8Array.prototype)
  })

  it('keeps a single chunk holding the whole value as is, and copies a view into larger memory', async () => {
    const bytes = pattern(1000, 4)
    const whole = Buffer.from(bytes)
    const alone = Buffer.alloc(1000)
    whole.copy(alone)
    const kept = await readVerified(streamBody([alone], 1000), expected(bytes))
    expect(kept.buffer).toBe(alone.buffer)
    expect(Object.getPrototypeOf(kept)).toBe(Uint8Array.prototype)
    const larger = new Uint8Array(5000)
    larger.set(bytes, 100)
    const view = larger.subarray(100, 1100)
    const copied = await readVerified(streamBody([view], 1000), expected(bytes))
    expect(copied).toEqual(bytes)
    expect(copied.buffer.byteLength).toBe(1000)
  })

  it('fails with E_CORRUPT on more bytes, fewer bytes, or other bytes than written', async () => {
    const bytes = pattern(1000, 5)
    await rejection(readVerified(streamBody([bytes, pattern(1)], 1001), expected(bytes)), 'E_CORRUPT')
    await rejection(readVerified(streamBody([bytes.subarray(0, 999)], 999), expected(bytes)), 'E_CORRUPT')
    const other = bytes.slice()
    other[500] = (other[500] as number) ^ 1
    await rejection(readVerified(streamBody([other], 1000), expected(bytes)), 'E_CORRUPT')
  })

  it('reads an observable body through bytesObserved, hashing the parts it shows', async () => {
    const bytes = pattern(3000, 6)
    const observable = (shown: number) => ({
      ...streamBody([], 3000),
      stream: () => {
        throw new Error('stream() must not be used')
      },
      bytesObserved: async (observe: (part: Uint8Array) => void) => {
        const out = bytes.slice()
        for (let offset = 0; offset < shown; offset += 1000) observe(out.subarray(offset, offset + 1000))
        return out
      },
    })
    expect(await readVerified(observable(3000), expected(bytes))).toEqual(bytes)
    // A body that returns bytes it did not show could return them unverified: refused.
    await rejection(readVerified(observable(2000), expected(bytes)), 'E_CORRUPT')
  })
})

describe('hashing', () => {
  it('hashes every chunk, each once the consumer has asked for the next one', async () => {
    const bytes = pattern(50_000, 8)
    const hashed = hashing(chunked(bytes, 20_000))
    const seen: Uint8Array[] = []
    for await (const chunk of hashed.chunks) seen.push(chunk)
    expect(seen.map((chunk) => chunk.byteLength)).toEqual([20_000, 20_000, 10_000])
    expect(hashed.digest()).toEqual({ storedSize: 50_000, checksum: checksumOf(bytes) })
  })

  it('refuses to give a checksum when the consumer stopped before the end', async () => {
    const hashed = hashing(chunked(pattern(50_000, 8), 20_000))
    for await (const _chunk of hashed.chunks) break
    expect(() => hashed.digest()).toThrowError(expect.objectContaining({ code: 'E_BACKEND' }))
  })
})
