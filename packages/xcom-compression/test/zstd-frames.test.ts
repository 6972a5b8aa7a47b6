import * as nodeZlib from 'node:zlib'
import { XComError } from '@xcom/core'
import { jsonRecords, randomBytes } from '@xcom/testing'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { isZstdAvailable } from '../src/index.ts'
import { readsConcatenatedZstd } from '../src/runtime.ts'
import { nativeZstd } from '../src/zstd.ts'
import { expectBytes, pump, runsZstdFeed, ZSTD_FEEDS } from './helpers.ts'

/** A frame and what it decodes to. */
interface Frame {
  bytes: Uint8Array
  content: Uint8Array
}

const skippable = (payload: Uint8Array): Frame => {
  const header = Buffer.alloc(8)
  header.writeUInt32LE(0x184d2a5e, 0)
  header.writeUInt32LE(payload.byteLength, 4)
  return { bytes: Buffer.concat([header, payload]), content: new Uint8Array(0) }
}
/** One raw block, no checksum, content size in one byte: the smallest frame there is. */
const rawFrame = (text: string): Frame => {
  const content = new TextEncoder().encode(text)
  const header = [0x28, 0xb5, 0x2f, 0xfd, 0x20, content.byteLength, 1 | (content.byteLength << 3), 0, 0]
  return { bytes: Uint8Array.of(...header, ...content), content }
}

describe.skipIf(!isZstdAvailable())(
  'zstd frames: any sequence, any chunking, same result on both feeds',
  () => {
    const feeds = ZSTD_FEEDS.filter(runsZstdFeed)
    const pool: Frame[] = []

    beforeAll(async () => {
      const codec = nativeZstd(nodeZlib, 3, 'apart')
      // Empty, tiny, several blocks of each type (raw for noise, RLE for zeros, compressed for JSON).
      const contents = [
        new Uint8Array(0),
        Uint8Array.of(7),
        jsonRecords(300_000, 5),
        randomBytes(300_000, 9),
        new Uint8Array(300_000),
      ]
      for (const content of contents) pool.push({ bytes: await codec.compress(content), content })
      pool.push(rawFrame('raw'), rawFrame(''), skippable(new Uint8Array(0)), skippable(randomBytes(100, 3)))
    })

    for (const feed of ZSTD_FEEDS) {
      it.skipIf(!runsZstdFeed(feed))(
        `${feed}: concatenated frames decode to their contents in order, whole and streamed`,
        async () => {
          const codec = nativeZstd(nodeZlib, 3, feed)
          const input = fc.record({
            picks: fc.array(fc.nat(pool.length - 1), { minLength: 1, maxLength: 6 }),
            chunk: fc.integer({ min: 1, max: 70_000 }),
          })
          await fc.assert(
            fc.asyncProperty(input, async ({ picks, chunk }) => {
              const frames = picks.map((pick) => pool[pick]!)
              const data = Buffer.concat(frames.map((frame) => frame.bytes))
              const expected = Buffer.concat(frames.map((frame) => frame.content))
              expectBytes(await codec.decompress(data), expected)
              // Small chunks only on small inputs: every piece is one write to node:zlib.
              const size = data.byteLength > 20_000 ? Math.max(chunk, 4096) : chunk
              expectBytes(await pump(codec.decompressStream(), data, size), expected)
            }),
            { numRuns: 40, seed: 8878 },
          )
        },
      )
    }

    it('damaged multi-frame input gives the same bytes or error code on every feed, whole and streamed', async () => {
      const codecs = feeds.map((feed) => nativeZstd(nodeZlib, 3, feed))
      const data = Buffer.concat(
        [pool[2]!, pool[7]!, pool[5]!, pool[8]!, pool[3]!].map((frame) => frame.bytes),
      )
      const outcome = async (run: Promise<Uint8Array>) => {
        try {
          return { bytes: Buffer.from(await run).toString('base64') }
        } catch (error) {
          if (!XComError.is(error)) throw error
          return { code: error.code }
        }
      }
      const damage = fc.record({
        at: fc.nat(data.byteLength - 1),
        mask: fc.integer({ min: 1, max: 255 }),
        cut: fc.option(fc.nat(data.byteLength), { nil: undefined }),
      })
      await fc.assert(
        fc.asyncProperty(damage, async ({ at, mask, cut }) => {
          const damaged = data.slice(0, cut)
          if (at < damaged.byteLength) damaged[at]! ^= mask
          const results = []
          for (const codec of codecs) {
            results.push(await outcome(codec.decompress(damaged)))
            results.push(await outcome(pump(codec.decompressStream(), damaged, 5000)))
          }
          for (const result of results) expect(result).toEqual(results[0])
          if ('code' in results[0]!) expect(results[0].code).toBe('E_CORRUPT')
        }),
        { numRuns: 60, seed: 20250101 },
      )
    })
  },
)

describe('readsConcatenatedZstd', () => {
  it('tells a decoder that reads on past a frame from one that stops after it, or fails', () => {
    const decoding = (result: () => Uint8Array) =>
      ({ zstdDecompressSync: result }) as unknown as typeof nodeZlib
    expect(readsConcatenatedZstd(decoding(() => new TextEncoder().encode('ab')))).toBe(true)
    expect(readsConcatenatedZstd(decoding(() => new TextEncoder().encode('a')))).toBe(false)
    expect(
      readsConcatenatedZstd(
        decoding(() => {
          throw new Error('unknown frame')
        }),
      ),
    ).toBe(false)
  })
})
