import { randomBytes } from 'node:crypto'
import { expectBytes } from '@xcom/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aesGcmStream, DEFAULT_SEGMENT_SIZE, staticKeys } from '../src/index.ts'
import { binding, counterRandom, newKey, smallSegments, through } from './helpers.ts'

const SEGMENT = 32
const SIZES = [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 5 * SEGMENT + 7]

describe('round trips', () => {
  const encryption = smallSegments(SEGMENT)

  for (const size of SIZES) {
    it(`${size} bytes: buffer, stream and both crossings give the plaintext back`, async () => {
      const plain = new Uint8Array(randomBytes(size))
      const sealed = await encryption.encrypt(plain, binding)
      expect(sealed.byteLength).toBe(encryption.encryptedSize(size))
      const streamed = await through(plain, await encryption.encryptStream(binding), 5)
      expect(streamed.byteLength).toBe(encryption.encryptedSize(size))
      expectBytes(await encryption.decrypt(sealed, binding), plain)
      expectBytes(await through(streamed, encryption.decryptStream(binding), 11), plain)
      expectBytes(await encryption.decrypt(streamed, binding), plain)
      expectBytes(await through(sealed, encryption.decryptStream(binding), 3), plain)
    })
  }

  it('several default-size segments round-trip, in one chunk and in uneven ones', async () => {
    const big = aesGcmStream({ keys: staticKeys([newKey('big')]) })
    const plain = new Uint8Array(randomBytes(3 * DEFAULT_SEGMENT_SIZE + 1234))
    const sealed = await big.encrypt(plain, binding)
    expectBytes(await big.decrypt(sealed, binding), plain)
    expectBytes(await through(sealed, big.decryptStream(binding), [1, 70_000, 333, 100_001]), plain)
    expectBytes(
      await big.decrypt(await through(plain, await big.encryptStream(binding), 50_000), binding),
      plain,
    )
  })

  it('each value gets a fresh salt and nonce prefix: the same plaintext encrypts differently', async () => {
    const plain = new Uint8Array(100)
    const [a, b] = await Promise.all([encryption.encrypt(plain, binding), encryption.encrypt(plain, binding)])
    expect(Buffer.compare(a as Uint8Array, b as Uint8Array)).not.toBe(0)
  })

  it('whole-buffer and streaming forms write the same bytes for any chunking (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 16, max: 64 }),
        fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 6 }),
        async (plain, segmentSize, writeSizes, readSizes) => {
          const keys = staticKeys([{ id: 'fc', material: new Uint8Array(32).fill(7) }])
          const one = aesGcmStream({ keys, segmentSize, random: counterRandom(1) })
          const two = aesGcmStream({ keys, segmentSize, random: counterRandom(1) })
          const sealed = await one.encrypt(plain, binding)
          const streamed = await through(plain, await two.encryptStream(binding), writeSizes)
          expectBytes(streamed, sealed)
          expectBytes(await through(sealed, one.decryptStream(binding), readSizes), plain)
          expectBytes(await one.decrypt(streamed, binding), plain)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('a reader uses the segment size of the header, not its own option', async () => {
    const keys = [newKey('k')]
    const plain = new Uint8Array(randomBytes(1000))
    const sealed = await smallSegments(16, keys).encrypt(plain, binding)
    const reader = smallSegments(4096, keys)
    expectBytes(await reader.decrypt(sealed, binding), plain)
    expectBytes(await through(sealed, reader.decryptStream(binding), 100), plain)
  })
})
