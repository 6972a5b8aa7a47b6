import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import {
  algorithmOf,
  CHECKSUM_ALGORITHMS,
  checksumOf,
  createChecksum,
  isChecksumAlgorithm,
} from '../src/checksum.ts'

const ascii = (text: string) => new Uint8Array(Buffer.from(text, 'ascii'))

describe('checksums', () => {
  it('computes the standard CRC-32 and SHA-256 check values', () => {
    expect(checksumOf(ascii('123456789'), 'crc32')).toBe('crc32:cbf43926')
    expect(checksumOf(new Uint8Array(0), 'crc32')).toBe('crc32:00000000')
    // A CRC whose hex form starts with zeros keeps all 8 digits.
    expect(checksumOf(ascii('a'), 'crc32')).toBe('crc32:e8b7be43')
    expect(checksumOf(ascii('abc'), 'sha256')).toBe(
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
  })

  it('gives the same digest fed in parts as in one piece', () => {
    const bytes = randomBytes(1_000_003, 9)
    for (const algorithm of ['crc32', 'sha256'] as const) {
      const checksum = createChecksum(algorithm)
      for (let offset = 0; offset < bytes.byteLength; offset += 65_537)
        checksum.update(bytes.subarray(offset, offset + 65_537))
      expect(checksum.digest()).toBe(checksumOf(bytes, algorithm))
    }
  })

  it('matches what the sha256sum and gzip command-line tools compute, so objects can be audited with them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xcom-checksum-'))
    const bytes = randomBytes(300_000, 4)
    const file = join(dir, 'object.bin')
    writeFileSync(file, bytes)
    expect(checksumOf(bytes, 'sha256')).toBe(
      `sha256:${execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]}`,
    )
    // gzip's trailer holds the CRC-32 of the data, little-endian, in the 8 bytes before the last 4.
    const gz = execFileSync('gzip', ['-c', file])
    expect(checksumOf(bytes, 'crc32')).toBe(
      `crc32:${gz
        .readUInt32LE(gz.byteLength - 8)
        .toString(16)
        .padStart(8, '0')}`,
    )
  })

  it('tells well-formed checksums from anything else', () => {
    expect(algorithmOf('crc32:0000abcd')).toBe('crc32')
    expect(algorithmOf(`sha256:${'f'.repeat(64)}`)).toBe('sha256')
    for (const bad of [
      undefined,
      42,
      '',
      'crc32',
      'crc32:',
      'crc32:0000ABCD',
      'crc32:0000abcd0',
      `sha256:${'f'.repeat(63)}`,
      `md5:${'0'.repeat(32)}`,
      'toString:0',
      '__proto__:00000000',
    ]) {
      expect(algorithmOf(bad), String(bad)).toBeUndefined()
    }
    expect(Object.keys(CHECKSUM_ALGORITHMS)).toEqual(['crc32', 'sha256'])
    expect(isChecksumAlgorithm('sha256')).toBe(true)
    expect(isChecksumAlgorithm('constructor')).toBe(false)
  })
})
