import { deflateSync, crc32 as nativeCrc32 } from 'node:zlib'
import { randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { adler32, crc32For, crc32Portable } from '../src/checksum.ts'

describe('checksums', () => {
  it("the JavaScript CRC-32 equals zlib's on every length and split", () => {
    const data = randomBytes(70_000, 5)
    for (let length = 0; length < 40; length++) {
      expect(crc32Portable(data.subarray(0, length), 0)).toBe(nativeCrc32(data.subarray(0, length)))
    }
    expect(crc32Portable(data, 0)).toBe(nativeCrc32(data))
    expect(crc32Portable(data.subarray(12_345), crc32Portable(data.subarray(0, 12_345), 0))).toBe(
      nativeCrc32(data),
    )
    expect(crc32Portable(new TextEncoder().encode('123456789'), 0)).toBe(0xcbf43926)
    expect(crc32For(undefined)).toBe(crc32Portable)
  })

  it('Adler-32 equals the one zlib writes, incrementally too', () => {
    expect(adler32(new TextEncoder().encode('Wikipedia'), 1)).toBe(0x11e60398)
    for (const data of [randomBytes(100_000, 9), new Uint8Array(20_000).fill(255)]) {
      const trailer = deflateSync(data).subarray(-4)
      const expected = ((trailer[0]! << 24) | (trailer[1]! << 16) | (trailer[2]! << 8) | trailer[3]!) >>> 0
      expect(adler32(data, 1)).toBe(expected)
      expect(adler32(data.subarray(7777), adler32(data.subarray(0, 7777), 1))).toBe(expected)
    }
  })
})
