import { type Bytes, type Codec, XComError } from '@xcom/core'
import { concatBytes } from '@xcom/core/adapter'
import { describe, expect, it } from 'vitest'
import { expectBytes, expectXComError, jsonRecords, randomBytes } from './test-data.ts'

/** Options of {@link describeCodec}. */
export interface DescribeCodecOptions {
  /** The codec shrinks redundant data (false for a pass-through codec such as `none`). @default true */
  compresses?: boolean
  /**
   * The format detects damage: empty, truncated or foreign input and data after its end are `E_CORRUPT` (false for
   * a pass-through codec, which accepts any bytes).
   * @default true
   */
  verifiesIntegrity?: boolean
  /** Size in bytes of the all-zero value used as a decompression bomb. @default 16 MiB */
  bombSize?: number
}

const MiB = 1024 * 1024

/**
 * Writes `input` into the transform in chunks of `chunkSize` while reading its output. Resolves with the output only
 * if the readable side closed normally; rejects with the stream's error otherwise. `delivered` receives every
 * chunk read before the end (or the error).
 */
async function pump(
  transform: TransformStream<Bytes, Bytes>,
  input: Bytes,
  chunkSize: number,
  delivered: Bytes[] = [],
): Promise<Bytes> {
  const writer = transform.writable.getWriter()
  const writing = (async () => {
    for (let offset = 0; offset < input.byteLength; offset += chunkSize) {
      await writer.write(input.subarray(offset, offset + chunkSize))
    }
    await writer.close()
  })()
  writing.catch(() => {})
  const reader = transform.readable.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    delivered.push(value)
  }
  await writing
  return concatBytes(delivered)
}

/**
 * The conformance suite every {@link Codec} must pass: round trips whole and streamed on empty, tiny, redundant and
 * random data; streamed output byte-identical to whole-buffer output whatever the chunking; `maxSize` and
 * decompression bombs (`E_TOO_LARGE`); and, for formats that can tell, `E_CORRUPT` for empty, truncated, foreign,
 * damaged and over-long input, both whole and streamed, with the stream erroring instead of closing.
 *
 * ```ts
 * import { describeCodec } from '@xcom/testing'
 * describeCodec('my codec', () => myCodec())
 * ```
 */
export function describeCodec(
  name: string,
  factory: () => Codec | Promise<Codec>,
  options: DescribeCodecOptions = {},
): void {
  const compresses = options.compresses ?? true
  const verifiesIntegrity = options.verifiesIntegrity ?? true
  const bombSize = options.bombSize ?? 16 * MiB
  const samples: Record<string, Bytes> = {
    empty: new Uint8Array(0),
    'one byte': Uint8Array.of(0x61),
    'short text': new TextEncoder().encode('Hello, XCom! {"rows": [1, 2, 3]} '.repeat(3)),
    'redundant JSON (1 MiB)': jsonRecords(MiB),
    'random bytes (256 KiB)': randomBytes(256 * 1024, 0x9e3779b9),
  }
  const json = samples['redundant JSON (1 MiB)']!
  const text = samples['short text']!

  describe(`Codec conformance: ${name}`, () => {
    it('has a name and a suffix that is empty or starts with a dot', async () => {
      const codec = await factory()
      expect(typeof codec.name).toBe('string')
      expect(codec.name.length).toBeGreaterThan(0)
      expect(codec.suffix === '' || /^\.[^./]+$/.test(codec.suffix)).toBe(true)
    })

    for (const [label, data] of Object.entries(samples)) {
      it(`round-trips ${label} whole, without modifying the input`, async () => {
        const codec = await factory()
        const copy = data.slice()
        const compressed = await codec.compress(data)
        expectBytes(data, copy)
        const compressedCopy = compressed.slice()
        expectBytes(await codec.decompress(compressed), data)
        expectBytes(compressed, compressedCopy)
      })

      it(`streams ${label} to the same bytes as compress(), and back, in any chunking`, async () => {
        const codec = await factory()
        const whole = await codec.compress(data)
        const sizes = data.byteLength <= 4096 ? [1, 7, 64 * 1024] : [1000, 64 * 1024, 1 + MiB]
        for (const size of sizes) expectBytes(await pump(codec.compressStream(), data, size), whole)
        const readSizes = whole.byteLength <= 4096 ? [1, 3, 64 * 1024] : [777, 16 * 1024, whole.byteLength]
        for (const size of readSizes) expectBytes(await pump(codec.decompressStream(), whole, size), data)
      })
    }

    if (compresses) {
      it('shrinks redundant data at least fourfold, and leaves random data within 1% + 1 KiB of its size', async () => {
        const codec = await factory()
        expect((await codec.compress(json)).byteLength).toBeLessThan(json.byteLength / 4)
        const random = samples['random bytes (256 KiB)']!
        expect((await codec.compress(random)).byteLength).toBeLessThan(random.byteLength * 1.01 + 1024)
      })
    }

    it('accepts output of exactly maxSize bytes and refuses one byte more with E_TOO_LARGE, whole and streamed', async () => {
      const codec = await factory()
      const compressed = await codec.compress(json)
      expectBytes(await codec.decompress(compressed, { maxSize: json.byteLength }), json)
      expectBytes(await pump(codec.decompressStream({ maxSize: json.byteLength }), compressed, 4096), json)
      await expectXComError(codec.decompress(compressed, { maxSize: json.byteLength - 1 }), 'E_TOO_LARGE')
      await expectXComError(
        pump(codec.decompressStream({ maxSize: json.byteLength - 1 }), compressed, 4096),
        'E_TOO_LARGE',
      )
      const empty = await codec.compress(new Uint8Array(0))
      expect((await codec.decompress(empty, { maxSize: 0 })).byteLength).toBe(0)
      await expectXComError(
        codec.decompress(await codec.compress(Uint8Array.of(1)), { maxSize: 0 }),
        'E_TOO_LARGE',
      )
    })

    it('stops a decompression bomb with E_TOO_LARGE, never delivering more than maxSize bytes', async () => {
      const codec = await factory()
      const bomb = await codec.compress(new Uint8Array(bombSize))
      const maxSize = MiB
      await expectXComError(codec.decompress(bomb, { maxSize }), 'E_TOO_LARGE')
      const delivered: Bytes[] = []
      await expectXComError(
        pump(codec.decompressStream({ maxSize }), bomb, 64 * 1024, delivered),
        'E_TOO_LARGE',
      )
      expect(concatBytes(delivered).byteLength).toBeLessThanOrEqual(maxSize)
    })

    it('runs several compressions and decompressions at once without mixing them up', async () => {
      const codec = await factory()
      const inputs = [0, 1, 2, 3].map((seed) =>
        concatBytes([randomBytes(50_000, seed + 1), json.subarray(0, 100_000)]),
      )
      const compressed = await Promise.all(
        inputs.map((input, i) => pump(codec.compressStream(), input, 1000 * (i + 1))),
      )
      const restored = await Promise.all(compressed.map((data) => codec.decompress(data)))
      restored.forEach((data, i) => {
        expectBytes(data, inputs[i]!)
      })
    })

    it("passes a reader's cancel back to the source through compression and decompression", async () => {
      const codec = await factory()
      let chunks = 0
      let cancelledWith: (reason: unknown) => void = () => {}
      const cancelled = new Promise<unknown>((resolve) => {
        cancelledWith = resolve
      })
      const endless = new ReadableStream<Bytes>({
        pull(controller) {
          controller.enqueue(randomBytes(64 * 1024, ++chunks).map((byte) => byte & 0x0f))
        },
        cancel(reason) {
          cancelledWith(reason)
        },
      })
      const reader = endless
        .pipeThrough(codec.compressStream())
        .pipeThrough(codec.decompressStream())
        .getReader()
      const first = await reader.read()
      expect(first.done).toBe(false)
      await reader.cancel('enough')
      expect(await cancelled).toBe('enough')
    })

    if (verifiesIntegrity) {
      it('refuses empty input with E_CORRUPT, whole and streamed', async () => {
        const codec = await factory()
        await expectXComError(codec.decompress(new Uint8Array(0)), 'E_CORRUPT')
        await expectXComError(pump(codec.decompressStream(), new Uint8Array(0), 1), 'E_CORRUPT')
      })

      it('refuses truncated input with E_CORRUPT, and the stream errors instead of closing', async () => {
        const codec = await factory()
        for (const data of [json, text]) {
          const compressed = await codec.compress(data)
          const cuts = [compressed.byteLength - 1, compressed.byteLength - 4, compressed.byteLength >> 1, 1]
          for (const cut of cuts) {
            const truncated = compressed.slice(0, cut)
            await expectXComError(codec.decompress(truncated), 'E_CORRUPT')
            const error = await expectXComError(pump(codec.decompressStream(), truncated, 1000), 'E_CORRUPT')
            expect(error.message.length).toBeGreaterThan(20)
          }
        }
      })

      it('refuses input that is not in its format with E_CORRUPT', async () => {
        const codec = await factory()
        for (const foreign of [samples['random bytes (256 KiB)']!, json, text]) {
          await expectXComError(codec.decompress(foreign), 'E_CORRUPT')
          await expectXComError(pump(codec.decompressStream(), foreign, 4096), 'E_CORRUPT')
        }
      })

      it('refuses data after the end of the compressed stream with E_CORRUPT', async () => {
        const codec = await factory()
        const compressed = await codec.compress(text)
        for (const extra of [new TextEncoder().encode('garbage!'), new Uint8Array(16), Uint8Array.of(1)]) {
          const longer = concatBytes([compressed, extra])
          await expectXComError(codec.decompress(longer), 'E_CORRUPT')
          await expectXComError(pump(codec.decompressStream(), longer, 1), 'E_CORRUPT')
          await expectXComError(pump(codec.decompressStream(), longer, compressed.byteLength), 'E_CORRUPT')
        }
      })

      it('either detects a damaged byte (E_CORRUPT) or still returns the original bytes', async () => {
        const codec = await factory()
        const compressed = await codec.compress(json)
        let detected = 0
        const positions = 48
        for (let k = 0; k < positions; k++) {
          const damaged = compressed.slice()
          const at = Math.floor((k * (damaged.byteLength - 1)) / (positions - 1))
          damaged[at] = damaged[at]! ^ (1 << (k % 8))
          try {
            expectBytes(await codec.decompress(damaged), json)
          } catch (error) {
            expect(XComError.is(error) ? error.code : error).toMatch(/^E_(CORRUPT|UNKNOWN_CODEC)$/)
            detected++
          }
        }
        expect(detected).toBeGreaterThan(positions / 2)
      })

      it('reports a stream error on both sides: the reader and the writer get the same XComError', async () => {
        const codec = await factory()
        const compressed = await codec.compress(json)
        const truncated = compressed.subarray(0, compressed.byteLength >> 1)
        const transform = codec.decompressStream()
        const writer = transform.writable.getWriter()
        const writing = (async () => {
          await writer.write(truncated)
          await writer.close()
        })()
        writing.catch(() => {})
        const reading = (async () => {
          const reader = transform.readable.getReader()
          while (!(await reader.read()).done) {}
        })()
        const readError = await expectXComError(reading, 'E_CORRUPT')
        expect(await writing.catch((error: unknown) => error)).toBe(readError)
      })
    }
  })
}
