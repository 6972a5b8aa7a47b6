import { createCipheriv, createHash, hkdfSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { aesGcmStream, HEADER_SIZE, staticKeys } from '../src/index.ts'
import { through } from './helpers.ts'

// The test vector of the README's "Format" section. The expected bytes were produced by this package; the
// independent computation below rebuilds them from the written format with node:crypto primitives alone.
const MATERIAL = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')
const KEY_ID = 'test-key-1'
const SALT = Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf', 'hex')
const PREFIX = Buffer.from('c0c1c2c3c4c5c6', 'hex')
const SEGMENT = 16
const BINDING = {
  dagId: 'etl_daily',
  runId: 'scheduled__2026-12-03T00:00:00+00:00',
  taskId: 'transform',
  mapIndex: 3,
  key: 'return_value',
  recordId: '0193a8e2-7c1d-7000-8000-000000000001',
}
const PLAINTEXT = 'The quick brown fox jumps over the lazy dog.'
const HEADER_HEX =
  '8958434501000000100a746573742d6b65792d31' +
  '00'.repeat(54) +
  'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6'
const EXPECTED_HEX =
  HEADER_HEX +
  '1fd6ad80d0d20609779be59f408d6b0a4652f326e7713de2d2bcd19ee9d0cc25' +
  '0b666be42643c7bfe3fc96f1836807b9efb3773c33307d013c0f062cbf0abec0' +
  '6aa8c0d1d746c9db3809878744549d1dc36be9fe7b32e344726baaa0'
const EMPTY_EXPECTED_HEX = `${HEADER_HEX}d0f7a1e4dfcc5c0420a2f8f21de4ed45`
const DERIVED_KEY_HEX = '8a1b68055995c88f9b6451ec62c6e46d0594522314620671df1e5e540ae322b2'

/** The vector computed from the README's description, sharing no code with the package. */
function independently(plaintext: Buffer): { sealed: Buffer; derivedKey: Buffer } {
  const id = Buffer.from(KEY_ID, 'ascii')
  const u32 = (value: number) => {
    const bytes = Buffer.alloc(4)
    bytes.writeUInt32BE(value)
    return bytes
  }
  const header = Buffer.concat([
    Buffer.from([0x89, 0x58, 0x43, 0x45, 0x01]),
    u32(SEGMENT),
    Buffer.from([id.length]),
    id,
    Buffer.alloc(64 - id.length),
    SALT,
    PREFIX,
  ])
  const text = (value: string) => {
    const bytes = Buffer.from(value, 'utf8')
    return Buffer.concat([u32(bytes.length), bytes])
  }
  const mapIndex = Buffer.alloc(8)
  mapIndex.writeBigInt64BE(BigInt(BINDING.mapIndex))
  const binding = Buffer.concat([
    text(BINDING.dagId),
    text(BINDING.runId),
    text(BINDING.taskId),
    mapIndex,
    text(BINDING.key),
    text(BINDING.recordId),
  ])
  const info = Buffer.concat([
    Buffer.from('xcom-encryption/aes256gcm-hkdf-stream-v1', 'ascii'),
    Buffer.from([0x00, id.length]),
    id,
    createHash('sha256').update(binding).digest(),
  ])
  const derivedKey = Buffer.from(hkdfSync('sha256', MATERIAL, SALT, info, 32))
  const parts = [header]
  const count = Math.max(1, Math.ceil(plaintext.length / SEGMENT))
  for (let index = 0; index < count; index++) {
    const final = index === count - 1
    const nonce = Buffer.concat([PREFIX, u32(index), Buffer.from([final ? 1 : 0])])
    const cipher = createCipheriv('aes-256-gcm', derivedKey, nonce)
    cipher.setAAD(header)
    parts.push(cipher.update(plaintext.subarray(index * SEGMENT, (index + 1) * SEGMENT)), cipher.final())
    parts.push(cipher.getAuthTag())
  }
  return { sealed: Buffer.concat(parts), derivedKey }
}

function vectorEncryption() {
  const bytes = Buffer.concat([SALT, PREFIX])
  let offset = 0
  const random = (size: number) => {
    offset += size
    return new Uint8Array(bytes.subarray(offset - size, offset))
  }
  return aesGcmStream({
    keys: staticKeys([{ id: KEY_ID, material: MATERIAL }]),
    segmentSize: SEGMENT,
    random,
  })
}

describe('known-answer test vector', () => {
  it('the written format, rebuilt from node:crypto primitives, gives the expected bytes', () => {
    const { sealed, derivedKey } = independently(Buffer.from(PLAINTEXT))
    expect(sealed.subarray(0, HEADER_SIZE).toString('hex')).toBe(HEADER_HEX)
    expect(derivedKey.toString('hex')).toBe(DERIVED_KEY_HEX)
    expect(sealed.toString('hex')).toBe(EXPECTED_HEX)
    expect(independently(Buffer.alloc(0)).sealed.toString('hex')).toBe(EMPTY_EXPECTED_HEX)
  })

  it('the package writes exactly these bytes, in both forms, and reads them back', async () => {
    const plain = new TextEncoder().encode(PLAINTEXT)
    expect(Buffer.from(await vectorEncryption().encrypt(plain, BINDING)).toString('hex')).toBe(EXPECTED_HEX)
    const streamed = await through(plain, await vectorEncryption().encryptStream(BINDING), 5)
    expect(Buffer.from(streamed).toString('hex')).toBe(EXPECTED_HEX)
    const empty = await vectorEncryption().encrypt(new Uint8Array(0), BINDING)
    expect(Buffer.from(empty).toString('hex')).toBe(EMPTY_EXPECTED_HEX)
    const opened = await vectorEncryption().decrypt(new Uint8Array(Buffer.from(EXPECTED_HEX, 'hex')), BINDING)
    expect(new TextDecoder().decode(opened)).toBe(PLAINTEXT)
    expect(vectorEncryption().keyIdOf(new Uint8Array(Buffer.from(HEADER_HEX, 'hex')))).toBe(KEY_ID)
  })
})
