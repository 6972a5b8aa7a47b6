import { randomBytes } from 'node:crypto'
import type { Encryption, EncryptionBinding } from '@xcom/core'
import { XComError } from '@xcom/core'
import { expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { HEADER_SIZE } from '../src/index.ts'
import { binding, decryptStreamed, newKey, smallSegments, splitSegments } from './helpers.ts'

const SEGMENT = 32
const URI = 'mem://bucket/value'

/** Both forms must refuse `bytes` with `code` (and the URI), the stream passing nothing on. */
async function expectRefused(
  encryption: Encryption,
  bytes: Uint8Array,
  code: 'E_CORRUPT' | 'E_CONFIG' = 'E_CORRUPT',
  bound: EncryptionBinding = binding,
): Promise<XComError> {
  const error = await expectXComError(encryption.decrypt(bytes, bound, { uri: URI }), code)
  expect(error.uri).toBe(URI)
  const streamed = await decryptStreamed(encryption, bytes, bound)
  expect(XComError.is(streamed.error, code), String(streamed.error)).toBe(true)
  expect((streamed.error as XComError).uri).toBe(URI)
  return error
}

describe('tampered values fail with E_CORRUPT, never with garbage', async () => {
  const key = newKey('k1')
  const encryption = smallSegments(SEGMENT, [key])
  // 100 bytes: segments of 32, 32, 32 and a final one of 4.
  const plain = new Uint8Array(randomBytes(100))
  const sealed = await encryption.encrypt(plain, binding)
  const segments = splitSegments(sealed, SEGMENT, HEADER_SIZE)
  const header = sealed.subarray(0, HEADER_SIZE)
  const join = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))

  it('is made of four segments after the header', () => {
    expect(segments.map((segment) => segment.byteLength)).toEqual([48, 48, 48, 20])
  })

  it('a flipped bit anywhere (every byte of the header and of each segment)', async () => {
    const keyIdBytes = new Set([9, 10, 11])
    for (let offset = 0; offset < sealed.byteLength; offset++) {
      const damaged = sealed.slice()
      damaged[offset] = (damaged[offset] as number) ^ 0x01
      // A changed key id names another key: E_CONFIG when it is unknown, as for any unknown key.
      const code = keyIdBytes.has(offset) ? undefined : 'E_CORRUPT'
      const error = await encryption.decrypt(damaged, binding).then(
        () => undefined,
        (reason: unknown) => reason,
      )
      expect(XComError.is(error, code), `byte ${offset}: ${String(error)}`).toBe(true)
      const streamed = await decryptStreamed(encryption, damaged)
      expect(XComError.is(streamed.error, code), `byte ${offset} (stream): ${String(streamed.error)}`).toBe(
        true,
      )
      // Segments before the damaged one are authentic and may be passed on; nothing after it is.
      const segment = Math.floor((offset - HEADER_SIZE) / (SEGMENT + 16))
      expect(streamed.passedOn).toBeLessThanOrEqual(Math.max(0, segment) * SEGMENT)
    }
  })

  it('truncation at every length, segment boundaries included', async () => {
    for (let length = 0; length < sealed.byteLength; length++) {
      await expectRefused(encryption, sealed.slice(0, length))
    }
    for (let count = 0; count < segments.length; count++) {
      const error = await expectRefused(encryption, join(header, ...segments.slice(0, count)))
      expect(error.message).toMatch(/truncated/)
    }
  })

  it('two segments swapped, a segment duplicated or dropped', async () => {
    const [s0, s1, s2, s3] = segments as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
    await expectRefused(encryption, join(header, s1, s0, s2, s3))
    await expectRefused(encryption, join(header, s0, s0, s1, s2, s3))
    await expectRefused(encryption, join(header, s0, s2, s3))
  })

  it('a segment appended after the final one, or any bytes after it', async () => {
    await expectRefused(encryption, join(sealed, segments[1] as Uint8Array))
    for (const extra of [1, 15, 16, 17, 48, 100])
      await expectRefused(encryption, join(sealed, new Uint8Array(extra)))
    await expectRefused(encryption, join(sealed, sealed))
  })

  it('the header of another value spliced onto these segments', async () => {
    const other = await encryption.encrypt(plain, binding)
    await expectRefused(encryption, join(other.subarray(0, HEADER_SIZE), ...segments))
  })

  it('a different binding, field by field', async () => {
    const changes: Partial<EncryptionBinding>[] = [
      { dagId: 'etl_daily2' },
      { runId: 'manual__2026-12-03' },
      { taskId: 'load' },
      { mapIndex: 0 },
      { key: 'other' },
      { recordId: 'rec-2' },
    ]
    for (const change of changes)
      await expectRefused(encryption, sealed, 'E_CORRUPT', { ...binding, ...change })
  })

  it('the binding is encoded unambiguously: moving bytes between fields changes it', async () => {
    const a = { ...binding, dagId: 'ab', runId: 'c' }
    const value = await encryption.encrypt(plain, a)
    await expectRefused(encryption, value, 'E_CORRUPT', { ...a, dagId: 'a', runId: 'bc' })
  })

  it('a wrong key under the same id', async () => {
    await expectRefused(smallSegments(SEGMENT, [newKey('k1')]), sealed)
  })

  it('an unknown key id: E_CONFIG naming it and XCOM_ENCRYPTION_KEYS', async () => {
    const error = await expectRefused(smallSegments(SEGMENT, [newKey('other')]), sealed, 'E_CONFIG')
    expect(error.message).toContain('"k1"')
    expect(error.message).toContain('XCOM_ENCRYPTION_KEYS')
  })

  it('data that is not an encrypted value at all', async () => {
    await expectRefused(encryption, new Uint8Array(randomBytes(500)))
    await expectRefused(encryption, new TextEncoder().encode('{"plain": "json"}'))
    expect(() => encryption.keyIdOf(new Uint8Array(10))).toThrow(/header/)
  })

  it('the streaming decryptor passes on authenticated segments only, before failing at a damaged one', async () => {
    const damaged = sealed.slice()
    const last = damaged.byteLength - 1
    damaged[last] = (damaged[last] as number) ^ 0x80
    const streamed = await decryptStreamed(encryption, damaged, binding, 1)
    expect(XComError.is(streamed.error, 'E_CORRUPT')).toBe(true)
    expect(streamed.passedOn).toBe(3 * SEGMENT)
  })
})
