import type { ObjectBody } from '@xcom/core'
import { toReadableStream } from '@xcom/core/adapter'
import { chunked, expectXComError, randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { hashing, readVerified, readVerifiedText, utf8Slices, verifying } from '../src/bytes.ts'
import { type ChecksumAlgorithm, checksumOf } from '../src/checksum.ts'

/** A body of `bytes` whose stream yields `chunks` (and whose bytes() must not be used). */
function streamBody(chunks: Uint8Array[], size: number): ObjectBody {
  return {
    objectKey: 'k',
    size,
    lastModified: new Date(),
    metadata: {},
    stream: () =>
      toReadableStream(
        (async function* () {
          yield* chunks
        })(),
      ),
    bytes: () => Promise.reject(new Error('bytes() must not be used')),
  }
}

const expected = (bytes: Uint8Array, algorithm: ChecksumAlgorithm = 'crc32') => ({
  size: bytes.byteLength,
  checksum: checksumOf(bytes, algorithm),
  uri: 'test://k',
})

describe('readVerified', () => {
  it('gathers a stream of chunks into one buffer and checks it', async () => {
    const bytes = randomBytes(100_000, 3)
    const chunks: Uint8Array[] = []
    for await (const chunk of chunked(bytes, 7_000)) chunks.push(chunk)
    const read = await readVerified(streamBody(chunks, bytes.byteLength), expected(bytes))
    expect(read).toEqual(bytes)
    expect(Object.getPrototypeOf(read)).toBe(Uint8Array.prototype)
  })

  it('keeps a single chunk holding the whole value as is, and copies a view into larger memory', async () => {
    const bytes = randomBytes(1000, 4)
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

  it.each(['crc32', 'sha256'] as const)(
    'fails with E_CORRUPT on more bytes, fewer bytes, or other bytes than written (%s)',
    async (algorithm) => {
      const bytes = randomBytes(1000, 5)
      const want = expected(bytes, algorithm)
      expect(await readVerified(streamBody([bytes], 1000), want)).toEqual(bytes)
      await expectXComError(readVerified(streamBody([bytes, randomBytes(1)], 1001), want), 'E_CORRUPT')
      await expectXComError(readVerified(streamBody([bytes.subarray(0, 999)], 999), want), 'E_CORRUPT')
      const other = bytes.slice()
      other[500] = (other[500] as number) ^ 1
      const error = await expectXComError(readVerified(streamBody([other], 1000), want), 'E_CORRUPT')
      expect(error.message).toContain(`its checksum is ${algorithm}:`)
      expect(error.uri).toBe('test://k')
    },
  )

  it('fails with E_CORRUPT, reading nothing, when the recorded checksum is malformed', async () => {
    const bytes = randomBytes(100, 5)
    for (const checksum of ['md5:00', 'crc32:ABCDEF01', 'crc32:1234', `sha256:${'0'.repeat(63)}`, '']) {
      const error = await expectXComError(
        readVerified(streamBody([bytes], 100), { ...expected(bytes), checksum }),
        'E_CORRUPT',
      )
      expect(error.message).toContain('is not crc32:<8 hex digits> or sha256:<64 hex digits>')
      expect(() => verifying({ ...expected(bytes), checksum })).toThrowError(
        expect.objectContaining({ code: 'E_CORRUPT' }),
      )
    }
  })

  it('reads an observable body through bytesObserved, hashing the parts it shows', async () => {
    const bytes = randomBytes(3000, 6)
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
    await expectXComError(readVerified(observable(2000), expected(bytes)), 'E_CORRUPT')
  })
})

describe('hashing', () => {
  it.each(['crc32', 'sha256'] as const)(
    'hashes every chunk with %s, each once the consumer has asked for the next one',
    async (algorithm) => {
      const bytes = randomBytes(50_000, 8)
      const hashed = hashing(chunked(bytes, 20_000), algorithm)
      const seen: Uint8Array[] = []
      for await (const chunk of hashed.chunks) seen.push(chunk)
      expect(seen.map((chunk) => chunk.byteLength)).toEqual([20_000, 20_000, 10_000])
      expect(hashed.digest()).toEqual({ storedSize: 50_000, checksum: checksumOf(bytes, algorithm) })
    },
  )

  it('refuses to give a checksum when the consumer stopped before the end', async () => {
    const hashed = hashing(chunked(randomBytes(50_000, 8), 20_000), 'crc32')
    for await (const _chunk of hashed.chunks) break
    expect(() => hashed.digest()).toThrowError(expect.objectContaining({ code: 'E_BACKEND' }))
  })
})

describe('utf8Slices', () => {
  it('encodes text in slices whose concatenation is its UTF-8, never splitting a surrogate pair', () => {
    const text = 'aé😀b😀😀c€'.repeat(50)
    for (const units of [1, 2, 3, 7, 64, 10_000]) {
      const slices = [...utf8Slices(text, units)]
      expect(Buffer.concat(slices)).toEqual(Buffer.from(text, 'utf8'))
      for (const slice of slices) {
        expect(Object.getPrototypeOf(slice)).toBe(Uint8Array.prototype)
        // Each slice is valid UTF-8 on its own: no pair was cut.
        expect(new TextDecoder('utf-8', { fatal: true }).decode(slice)).not.toContain('\uFFFD')
      }
    }
    expect([...utf8Slices('')]).toEqual([])
  })
})

describe('readVerifiedText', () => {
  const text = '{"city":"Zürich","smile":"😀","sum":"∑"}'.repeat(300)
  const bytes = new Uint8Array(Buffer.from(text, 'utf8'))
  it('decodes chunks that cut multi-byte characters, once size and checksum match', async () => {
    for (const size of [1, 2, 3, 5, 4096]) {
      const chunks: Uint8Array[] = []
      for await (const chunk of chunked(bytes, size)) chunks.push(chunk)
      expect(await readVerifiedText(streamBody(chunks, bytes.byteLength), expected(bytes, 'sha256'))).toBe(
        text,
      )
    }
  })

  it('is byte-exact: a leading byte order mark stays in the text', async () => {
    const withBom = new Uint8Array(Buffer.from('\uFEFF"x"', 'utf8'))
    expect(await readVerifiedText(streamBody([withBom], withBom.byteLength), expected(withBom))).toBe(
      '\uFEFF"x"',
    )
  })

  it('fails with E_CORRUPT on more, fewer or other bytes, and on a malformed checksum', async () => {
    await expectXComError(
      readVerifiedText(streamBody([bytes, randomBytes(1)], bytes.byteLength + 1), expected(bytes)),
      'E_CORRUPT',
    )
    await expectXComError(
      readVerifiedText(streamBody([bytes.subarray(1)], bytes.byteLength - 1), expected(bytes)),
      'E_CORRUPT',
    )
    const other = bytes.slice()
    other[7] = 0xff // not even UTF-8 any more: still reported as corruption, not as a decoding error
    const error = await expectXComError(
      readVerifiedText(streamBody([other], other.byteLength), expected(bytes)),
      'E_CORRUPT',
    )
    expect(error.uri).toBe('test://k')
    await expectXComError(
      readVerifiedText(streamBody([bytes], bytes.byteLength), { ...expected(bytes), checksum: 'crc32:zz' }),
      'E_CORRUPT',
    )
  })
})
