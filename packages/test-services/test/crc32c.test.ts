import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32cBase64, crc32cUpdate } from '../src/index.ts'

/** Bit-at-a-time CRC-32C, the definition the table-driven version must agree with. */
function reference(data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

describe('crc32c', () => {
  it('matches the published check values', () => {
    expect(crc32cUpdate(0, Buffer.from('123456789'))).toBe(0xe3069283)
    expect(crc32cUpdate(0, new Uint8Array(32))).toBe(0x8a9136aa)
    expect(crc32cUpdate(0, new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
  })

  it('encodes as GCS does: 4 bytes big-endian in base64', () => {
    expect(crc32cBase64(crc32cUpdate(0, Buffer.from('hello')))).toBe('mnG7TA==')
    expect(crc32cBase64(crc32cUpdate(0, new Uint8Array(0)))).toBe('AAAAAA==')
  })

  it('agrees with the bitwise definition and is independent of how the input is split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
        const at = Math.min(cut, data.length)
        const whole = crc32cUpdate(0, data)
        expect(whole).toBe(reference(data))
        expect(crc32cUpdate(crc32cUpdate(0, data.subarray(0, at)), data.subarray(at))).toBe(whole)
      }),
    )
  })

  it('is not node:zlib crc32 (IEEE), which GCS does not use', async () => {
    const { crc32 } = await import('node:zlib')
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926)
    expect(crc32cUpdate(0, Buffer.from('123456789'))).not.toBe(0xcbf43926)
  })
})
