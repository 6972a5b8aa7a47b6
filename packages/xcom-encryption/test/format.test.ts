import { randomBytes } from 'node:crypto'
import { expectBytes, expectXComError, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { aesGcmStream, encodeBinding, HEADER_SIZE, MAGIC, staticKeys } from '../src/index.ts'
import { binding, newKey, smallSegments, through } from './helpers.ts'

describe('format details', () => {
  const encryption = smallSegments(32, [newKey('k1')])

  it('encryptedSize is exact: header, plaintext, one tag per segment, at least one segment', () => {
    expect(HEADER_SIZE).toBe(113)
    expect(encryption.encryptedSize(0)).toBe(113 + 16)
    expect(encryption.encryptedSize(32)).toBe(113 + 32 + 16)
    expect(encryption.encryptedSize(33)).toBe(113 + 33 + 32)
    expect(aesGcmStream({ keys: staticKeys([newKey('a')]) }).encryptedSize(65536 * 3 + 1)).toBe(
      113 + 65536 * 3 + 1 + 64,
    )
    expect(() => encryption.encryptedSize(-1)).toThrow(/not a size/)
    // The 32-bit segment counter caps a value at 2^32 segments.
    expect(() => smallSegments(16).encryptedSize(16 * 2 ** 32 + 1)).toThrow(/segment counter/)
  })

  it('keyIdOf reads the id from the first 256 bytes, or fewer', async () => {
    const sealed = await encryption.encrypt(new Uint8Array(randomBytes(1000)), binding)
    expect(encryption.keyIdOf(sealed.subarray(0, 256))).toBe('k1')
    expect(encryption.keyIdOf(sealed.subarray(0, HEADER_SIZE))).toBe('k1')
    expect(encryption.name).toBe('aes256gcm-hkdf-stream-v1')
    expectBytes(sealed.subarray(0, 4), MAGIC)
    await expectXComError(() => encryption.keyIdOf(sealed.subarray(0, HEADER_SIZE - 1)), 'E_CORRUPT')
    const wrongVersion = sealed.slice(0, HEADER_SIZE)
    wrongVersion[4] = 2
    await expectXComError(() => encryption.keyIdOf(wrongVersion), 'E_CORRUPT')
  })

  it('a header naming a segment size out of bounds is refused before any allocation', async () => {
    const sealed = await encryption.encrypt(new Uint8Array(10), binding)
    for (const size of [0, 15, 16 * 1024 * 1024 + 1, 0xffffffff]) {
      const damaged = sealed.slice()
      new DataView(damaged.buffer).setUint32(5, size)
      await expectXComError(encryption.decrypt(damaged, binding), 'E_CORRUPT')
    }
  })

  it('the binding encoding: length-prefixed UTF-8 fields and a signed 64-bit map index', () => {
    const bytes = encodeBinding({ dagId: 'd', runId: 'é', taskId: '', mapIndex: -1, key: 'k', recordId: 'r' })
    expect(Buffer.from(bytes).toString('hex')).toBe(
      '0000000164' + '00000002c3a9' + '00000000' + 'ffffffffffffffff' + '000000016b' + '0000000172',
    )
  })

  it('a binding with a lone surrogate or a fractional map index is refused (E_INVALID_KEY)', async () => {
    await expectXComError(
      encryption.encrypt(new Uint8Array(1), { ...binding, key: 'a\ud800' }),
      'E_INVALID_KEY',
    )
    await expectXComError(
      encryption.encrypt(new Uint8Array(1), { ...binding, mapIndex: 1.5 }),
      'E_INVALID_KEY',
    )
    await expectXComError(() => encryption.decryptStream({ ...binding, dagId: '\udc00' }), 'E_INVALID_KEY')
  })

  it('bad options are E_CONFIG', async () => {
    const keys = staticKeys([newKey('a')])
    for (const segmentSize of [0, 15, 1.5, 16 * 1024 * 1024 + 1]) {
      await expectXComError(() => aesGcmStream({ keys, segmentSize }), 'E_CONFIG')
    }
    await expectXComError(() => aesGcmStream({ keys: {} as never }), 'E_CONFIG')
    const short = aesGcmStream({ keys, random: () => new Uint8Array(3) })
    await expectXComError(short.encrypt(new Uint8Array(1), binding), 'E_CONFIG')
  })

  it('a provider handing out a malformed key is E_CONFIG, its material never quoted', async () => {
    const material = new Uint8Array(16).fill(0x41)
    const broken = aesGcmStream({
      keys: { activeKey: async () => ({ id: 'x', material }), key: async () => undefined },
    })
    const error = await expectXComError(broken.encrypt(new Uint8Array(1), binding), 'E_CONFIG')
    expect(error.message).not.toContain('AAAA')
  })

  it('streams refuse chunks that are not bytes', async () => {
    const text = () => new ReadableStream({ start: (controller) => controller.enqueue('text' as never) })
    await expectXComError(readAll(text().pipeThrough(await encryption.encryptStream(binding))), 'E_CONFIG')
    await expectXComError(readAll(text().pipeThrough(encryption.decryptStream(binding))), 'E_CONFIG')
  })

  it('a large value in one chunk streams out in segment-sized pieces', async () => {
    const plain = new Uint8Array(randomBytes(10_000))
    const stream = await encryption.encryptStream(binding)
    const sealed = await through(plain, stream)
    expectBytes(await encryption.decrypt(sealed, binding), plain)
  })
})
