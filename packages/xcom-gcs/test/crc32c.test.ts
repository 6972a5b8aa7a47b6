import { CRC32C } from '@google-cloud/storage'
import { randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { crc32cBase64, crc32cUpdate, fastCrc32cValidator } from '../src/crc32c.ts'

describe('fastCrc32cValidator', () => {
  it('matches the CRC-32C check values', () => {
    expect(crc32cUpdate(0, new TextEncoder().encode('123456789'))).toBe(0xe3069283)
    expect(crc32cBase64(crc32cUpdate(0, new TextEncoder().encode('hello')))).toBe('mnG7TA==')
    expect(crc32cBase64(crc32cUpdate(0, new Uint8Array(0)))).toBe('AAAAAA==')
  })

  it('agrees with the SDK validator on random data fed in uneven pieces', () => {
    for (const size of [1, 7, 8, 9, 63, 1000, 65_537]) {
      const data = Buffer.from(randomBytes(size))
      const ours = fastCrc32cValidator()
      const sdk = new CRC32C()
      for (let offset = 0; offset < size; offset += 13) {
        ours.update(data.subarray(offset, offset + 13))
        sdk.update(data.subarray(offset, offset + 13))
      }
      expect(ours.toString()).toBe(sdk.toString())
      expect(ours.validate(sdk.toString())).toBe(true)
      expect(ours.validate(sdk.valueOf() as unknown as string)).toBe(true)
      expect(ours.validate('AAAAAA==')).toBe(size === 0)
    }
  })
})
