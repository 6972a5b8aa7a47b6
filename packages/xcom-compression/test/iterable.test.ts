import { toReadableStream } from '@xcom/core/adapter'
import { expectXComError, jsonRecords, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { compressIterable, decompressIterable, gzip, zip } from '../src/index.ts'
import { expectBytes } from './helpers.ts'

const join = (chunks: AsyncIterable<Uint8Array>) => readAll(toReadableStream(chunks))

const value = jsonRecords(500_000)
const pieces = (size: number) => {
  const out: Uint8Array[] = []
  for (let offset = 0; offset < value.byteLength; offset += size)
    out.push(value.subarray(offset, offset + size))
  return out
}

describe('AsyncIterable forms', () => {
  it('compress any byte source to the same bytes as compress(), and decompress them back', async () => {
    for (const codec of [gzip(), zip({ implementation: 'portable' })]) {
      const whole = await codec.compress(value)
      const sources = [
        value,
        pieces(33_333),
        (async function* () {
          yield* pieces(10_000)
        })(),
        toReadableStream(pieces(70_000)),
      ]
      for (const source of sources) expectBytes(await join(compressIterable(codec, source)), whole)
      expectBytes(await join(decompressIterable(codec, [whole.subarray(0, 100), whole.subarray(100)])), value)
    }
  })

  it('throws the codec error from the iteration instead of ending it when the data is bad', async () => {
    const codec = gzip()
    const whole = await codec.compress(value)
    const seen: Uint8Array[] = []
    const run = (async () => {
      for await (const chunk of decompressIterable(codec, [whole.subarray(0, whole.byteLength - 10)]))
        seen.push(chunk)
    })()
    await expectXComError(run, 'E_CORRUPT')
    await expectXComError(join(decompressIterable(codec, [whole], { maxSize: 1000 })), 'E_TOO_LARGE')
  })

  it('stops the source when the consumer stops early', async () => {
    let finished = false
    async function* endless() {
      try {
        for (;;) yield value.subarray(0, 65_536)
      } finally {
        finished = true
      }
    }
    for await (const chunk of compressIterable(gzip(), endless())) {
      expect(chunk.byteLength).toBeGreaterThan(0)
      break
    }
    expect(finished).toBe(true)
  })

  it('refuses a source that is not bytes with E_CONFIG', () => {
    for (const iterate of [compressIterable, decompressIterable]) {
      expect(() => iterate(gzip(), 42 as unknown as Uint8Array)).toThrowError(
        expect.objectContaining({ code: 'E_CONFIG' }),
      )
    }
  })
})
