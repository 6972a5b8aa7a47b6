import { chunked, expectXComError, jsonRecords, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import {
  compressIfWorthIt,
  compressStreamIfWorthIt,
  gzip,
  isZstdAvailable,
  none,
  zstd,
} from '../src/index.ts'
import { expectBytes } from './helpers.ts'

describe('compressIfWorthIt', () => {
  it('keeps the compressed form when it is at most minRatio of the original', async () => {
    const value = jsonRecords(200_000)
    const result = await compressIfWorthIt(gzip(), value)
    expect(result.codec.name).toBe('gzip')
    expect(result.ratio).toBeLessThan(0.9)
    expect(result.ratio).toBe(result.data.byteLength / value.byteLength)
    expectBytes(await gzip().decompress(result.data), value)
  })

  it('stores incompressible data as is, with the none codec', async () => {
    const value = randomBytes(100_000)
    for (const codec of [gzip(), ...(isZstdAvailable() ? [zstd()] : [])]) {
      const result = await compressIfWorthIt(codec, value)
      expect(result).toEqual({ codec: expect.objectContaining({ name: 'none' }), data: value, ratio: 1 })
      expect(result.data).toBe(value)
    }
  })

  it('applies minRatio exactly: stored/original <= minRatio keeps compression', async () => {
    const value = jsonRecords(50_000)
    const ratio = (await gzip().compress(value)).byteLength / value.byteLength
    expect((await compressIfWorthIt(gzip(), value, { minRatio: ratio })).codec.name).toBe('gzip')
    expect((await compressIfWorthIt(gzip(), value, { minRatio: ratio * 0.99 })).codec.name).toBe('none')
  })

  it('never compresses empty input, nor with the none codec', async () => {
    expect((await compressIfWorthIt(gzip(), new Uint8Array(0))).codec.name).toBe('none')
    const value = jsonRecords(10_000)
    expect((await compressIfWorthIt(none(), value)).data).toBe(value)
  })

  it('refuses a minRatio outside (0, 1] with E_CONFIG', async () => {
    for (const minRatio of [0, -0.5, 1.5, Number.NaN]) {
      await expectXComError(compressIfWorthIt(gzip(), Uint8Array.of(1), { minRatio }), 'E_CONFIG')
    }
  })
})

describe('compressStreamIfWorthIt', () => {
  it('compresses a redundant stream, deciding on a sample, and the output decompresses to the source', async () => {
    const value = jsonRecords(3_000_000)
    const result = await compressStreamIfWorthIt(gzip(), chunked(value, 100_000), { sampleSize: 300_000 })
    expect(result.codec.name).toBe('gzip')
    expect(result.sampleRatio).toBeLessThan(0.9)
    const stored = await readAll(result.stream)
    expectBytes(stored, await gzip().compress(value))
  })

  it('passes an incompressible stream through unchanged, with the none codec', async () => {
    const value = randomBytes(1_000_000)
    const result = await compressStreamIfWorthIt(gzip(), chunked(value, 64 * 1024))
    expect(result.codec.name).toBe('none')
    expectBytes(await readAll(result.stream), value)
  })

  it('decides a source shorter than the sample on its exact size', async () => {
    const value = jsonRecords(10_000)
    const result = await compressStreamIfWorthIt(gzip(), value)
    expect(result.codec.name).toBe('gzip')
    expectBytes(await readAll(result.stream), await gzip().compress(value))
    const empty = await compressStreamIfWorthIt(gzip(), new Uint8Array(0))
    expect(empty.codec.name).toBe('none')
    expect((await readAll(empty.stream)).byteLength).toBe(0)
  })

  it('refuses a bad sampleSize or minRatio with E_CONFIG', async () => {
    await expectXComError(compressStreamIfWorthIt(gzip(), Uint8Array.of(1), { sampleSize: 0 }), 'E_CONFIG')
    await expectXComError(compressStreamIfWorthIt(gzip(), Uint8Array.of(1), { minRatio: 2 }), 'E_CONFIG')
  })
})
