import * as nodeZlib from 'node:zlib'
import { crc32, deflateSync, gzipSync } from 'node:zlib'
import { XComError } from '@xcom/core'
import { expectXComError, jsonRecords, randomBytes } from '@xcom/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type CompressionCodec, deflate, gzip, isZstdAvailable, zip, zstd } from '../src/index.ts'
import { nativeZstd } from '../src/zstd.ts'
import { expectBytes, pump } from './helpers.ts'

const codecs: [string, CompressionCodec][] = [
  ...[gzip, deflate, zip].flatMap((make) =>
    (['native', 'portable'] as const).map((implementation): [string, CompressionCodec] => {
      const codec = make({ implementation })
      return [`${codec.name} (${implementation})`, codec]
    }),
  ),
  ...(isZstdAvailable()
    ? ([
        ['zstd', zstd()],
        ['zstd (one engine per frame)', nativeZstd(nodeZlib, 3, 'apart')],
      ] as [string, CompressionCodec][])
    : []),
]

/** Outcome of decoding: the bytes, or the error code. Anything but an XComError is a bug. */
async function outcome(run: Promise<Uint8Array>): Promise<{ bytes: Uint8Array } | { code: string }> {
  try {
    return { bytes: await run }
  } catch (error) {
    if (!XComError.is(error)) throw error
    return { code: error.code }
  }
}

describe('damaged input never hangs, never throws anything but E_CORRUPT / E_UNKNOWN_CODEC, never lies', () => {
  const original = jsonRecords(20_000)
  for (const [label, codec] of codecs) {
    it(`${label}: random damage is detected or harmless, and whole and streamed decoding agree`, async () => {
      const compressed = await codec.compress(original)
      const damage = fc.record({
        flips: fc.array(fc.tuple(fc.nat(compressed.byteLength - 1), fc.integer({ min: 1, max: 255 })), {
          maxLength: 4,
        }),
        cut: fc.option(fc.nat(compressed.byteLength), { nil: undefined }),
        chunk: fc.integer({ min: 1, max: 5000 }),
      })
      await fc.assert(
        fc.asyncProperty(damage, async ({ flips, cut, chunk }) => {
          const damaged = compressed.slice(0, cut)
          for (const [at, mask] of flips) if (at < damaged.byteLength) damaged[at]! ^= mask
          const whole = await outcome(codec.decompress(damaged))
          const streamed = await outcome(pump(codec.decompressStream(), damaged, chunk))
          expect(streamed).toEqual(whole)
          if ('bytes' in whole) expectBytes(whole.bytes, original)
          else expect(whole.code).toMatch(/^E_(CORRUPT|UNKNOWN_CODEC)$/)
        }),
        { numRuns: 60, seed: 20240611 },
      )
    })

    it(`${label}: arbitrary bytes are refused with E_CORRUPT or E_UNKNOWN_CODEC`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
          const result = await outcome(codec.decompress(bytes))
          if ('code' in result) expect(result.code).toMatch(/^E_(CORRUPT|UNKNOWN_CODEC)$/)
        }),
        { numRuns: 100, seed: 42 },
      )
    })
  }
})

describe('gzip headers and trailers', () => {
  const value = jsonRecords(10_000)
  const body = gzipSync(value).subarray(10) // deflate data + trailer, after a plain 10-byte header
  const withHeader = (flags: number, ...fields: Uint8Array[]) => {
    const header = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3]), ...fields])
    return Buffer.concat([header, body])
  }
  const both = [gzip(), gzip({ implementation: 'portable' })]

  it('reads every optional header field: extra, name, comment and header CRC', async () => {
    const fields = [
      Buffer.from([4, 0, 0x41, 0x42, 2, 0]),
      Buffer.from('name.json\0'),
      Buffer.from('a comment\0'),
    ]
    const header = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3]), ...fields])
    const hcrc = Buffer.alloc(2)
    hcrc.writeUInt16LE(crc32(header) & 0xffff)
    const data = Buffer.concat([header, hcrc, body])
    for (const codec of both) {
      expectBytes(await codec.decompress(data), value)
      expectBytes(await pump(codec.decompressStream(), data, 3), value)
    }
  })

  it('refuses a wrong header CRC, reserved flags, another method, a wrong CRC-32 or length with E_CORRUPT', async () => {
    const wrongCrc = Buffer.from(withHeader(0))
    wrongCrc[wrongCrc.length - 8]! ^= 1
    const wrongLength = Buffer.from(withHeader(0))
    wrongLength[wrongLength.length - 1]! ^= 1
    const method = Buffer.from(withHeader(0))
    method[2] = 7
    const bad = [withHeader(2, Buffer.from([0, 0])), withHeader(0x20), method, wrongCrc, wrongLength]
    for (const codec of both) {
      for (const data of bad) {
        await expectXComError(codec.decompress(data), 'E_CORRUPT')
        await expectXComError(pump(codec.decompressStream(), data, 7), 'E_CORRUPT')
      }
    }
  })

  it('refuses a header whose file name never ends, without buffering it all (E_CORRUPT)', async () => {
    const endless = withHeader(8, Buffer.alloc(3 * 1024 * 1024, 0x61))
    for (const codec of both) {
      const error = await expectXComError(codec.decompress(endless.subarray(0, 3 * 1024 * 1024)), 'E_CORRUPT')
      expect(error.message).toMatch(/gzip/)
    }
  })

  it('detects a damaged stored block, whose deflate data stays valid, through the CRC-32 (level 0)', async () => {
    for (const codec of [gzip({ level: 0 }), gzip({ level: 0, implementation: 'portable' })]) {
      const compressed = (await codec.compress(value)).slice()
      compressed[100]! ^= 0x20
      await expectXComError(codec.decompress(compressed), 'E_CORRUPT')
    }
  })
})

describe('zlib (deflate) streams', () => {
  const value = jsonRecords(10_000)
  const both = [deflate(), deflate({ implementation: 'portable' })]

  it('refuses a wrong Adler-32 and a preset dictionary with E_CORRUPT', async () => {
    const wrongAdler = Buffer.from(deflateSync(value))
    wrongAdler[wrongAdler.length - 1]! ^= 1
    const dictionary = Buffer.from(deflateSync(value, { dictionary: Buffer.from('{"id":') }))
    expect(dictionary[1]! & 0x20).toBe(0x20)
    for (const codec of both) {
      await expectXComError(codec.decompress(wrongAdler), 'E_CORRUPT')
      await expectXComError(codec.decompress(dictionary), 'E_CORRUPT')
    }
  })

  it('reads zlib streams at every level and writes the header zlib writes', async () => {
    // RFC 1950 headers with FLEVEL as zlib sets it: fixed bytes, not whatever this Node.js's zlib happens to write.
    const headers: [level: number, header: number[]][] = [
      [0, [0x78, 0x01]],
      [1, [0x78, 0x01]],
      [5, [0x78, 0x5e]],
      [6, [0x78, 0x9c]],
      [9, [0x78, 0xda]],
    ]
    for (const [level, header] of headers) {
      const reference = deflateSync(value, { level })
      for (const codec of both) expectBytes(await codec.decompress(reference), value)
      const portable = await deflate({ implementation: 'portable', level }).compress(value)
      expect([...portable.subarray(0, 2)]).toEqual(header)
    }
  })
})

describe('zip archives', () => {
  const value = randomBytes(5000, 3)
  const both = [zip(), zip({ implementation: 'portable' })]

  it('refuses a data descriptor or local sizes that do not match the data with E_CORRUPT', async () => {
    for (const codec of both) {
      const archive = await codec.compress(value)
      const descriptorAt = archive.byteLength - 22 - 46 - 4 - 16
      for (const offset of [4, 8, 12]) {
        const damaged = archive.slice()
        damaged[descriptorAt + offset]! ^= 1
        await expectXComError(codec.decompress(damaged), 'E_CORRUPT')
      }
    }
  })

  it('refuses an archive whose end record is missing or followed by other data (E_CORRUPT)', async () => {
    for (const codec of both) {
      const archive = await codec.compress(value)
      await expectXComError(codec.decompress(archive.subarray(0, archive.byteLength - 22)), 'E_CORRUPT')
      await expectXComError(codec.decompress(Buffer.concat([archive, archive])), 'E_CORRUPT')
    }
  })

  it('refuses writing more than zip without Zip64 can hold with E_TOO_LARGE', async () => {
    // 4 GiB of zeros streamed through a level-0 (stored) zip would take minutes; the limit is checked on the totals,
    // so a run over a source that claims 4 GiB of data is enough: a TransformStream that repeats one zero chunk.
    const codec = zip({ level: 1 })
    const chunk = new Uint8Array(16 * 1024 * 1024)
    let left = 257
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (left-- === 0) controller.close()
        else controller.enqueue(chunk)
      },
    })
    const reader = source.pipeThrough(codec.compressStream()).getReader()
    const error = await expectXComError(
      (async () => {
        while (!(await reader.read()).done) {}
      })(),
      'E_TOO_LARGE',
    )
    expect(error.message).toContain('gzip()')
  }, 120_000)
})
