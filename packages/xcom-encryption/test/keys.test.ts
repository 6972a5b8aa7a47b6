import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectBytes, expectNoSecrets, expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import {
  aesGcmStream,
  encryptionFromEnv,
  generateKey,
  keysFromEnv,
  keysFromModule,
  parseKeyList,
  staticKeys,
} from '../src/index.ts'
import { binding, newKey } from './helpers.ts'

const KEY_B64 = randomBytes(32).toString('base64')
const KEY_HEX = randomBytes(32).toString('hex')
const env = (value: string) => ({ XCOM_ENCRYPTION_KEYS: value })

describe('XCOM_ENCRYPTION_KEYS', () => {
  it('reads base64, url-safe base64 (padded or not) and hex keys; the first entry is active', async () => {
    const raw = randomBytes(32)
    const url = raw.toString('base64url')
    const keys = parseKeyList(` a:${KEY_B64} , b:${KEY_HEX},c:${url},d:${url}=,`)
    expect(keys.map((key) => key.id)).toEqual(['a', 'b', 'c', 'd'])
    expectBytes(keys[0]?.material, new Uint8Array(Buffer.from(KEY_B64, 'base64')))
    expectBytes(keys[1]?.material, new Uint8Array(Buffer.from(KEY_HEX, 'hex')))
    expectBytes(keys[2]?.material, new Uint8Array(raw))
    const provider = keysFromEnv(env(`a:${KEY_B64},b:${KEY_HEX}`))
    expect((await provider.activeKey()).id).toBe('a')
    expect((await provider.key('b'))?.id).toBe('b')
    expect(await provider.key('zz')).toBeUndefined()
  })

  const bad: [string, string, RegExp][] = [
    ['unset', '', /not set/],
    ['only commas', ' , ,', /no "id:key"/],
    ['no colon', KEY_B64, /entry 1 is not of the form "id:key"/],
    ['bad id characters', `key one:${KEY_B64}`, /entry 1: the key id must be/],
    ['id too long', `${'x'.repeat(65)}:${KEY_B64}`, /key id must be/],
    ['duplicate id', `a:${KEY_B64},a:${KEY_HEX}`, /entry 2: the key id "a" is given twice/],
    ['short key', `a:${KEY_B64.slice(0, 40)}`, /is 30 bytes; it must be 32/],
    ['long hex', `a:${KEY_HEX}00`, /must be 32 bytes/],
    ['not base64', `a:${KEY_HEX.slice(0, 40)}!!!`, /unreadable/],
    ['empty key', 'a:', /must be 32 bytes/],
    ['non-canonical base64', `a:${KEY_B64.slice(0, 42)}B=`, /must be 32 bytes/],
  ]
  for (const [what, value, message] of bad) {
    it(`${what}: E_CONFIG with a clear message and no key material`, async () => {
      const error = await expectXComError(() => keysFromEnv(env(value)), 'E_CONFIG')
      expect(error.message).toMatch(message)
      expectNoSecrets(error, [KEY_B64, KEY_B64.slice(0, 40), KEY_HEX, KEY_HEX.slice(0, 40)])
    })
  }

  it('a key pasted where the id goes is not quoted either', async () => {
    const error = await expectXComError(() => keysFromEnv(env(`${KEY_B64}:${KEY_B64}`)), 'E_CONFIG')
    expectNoSecrets(error, [KEY_B64, KEY_B64.slice(0, 20)])
  })

  it('generateKey() makes an entry keysFromEnv accepts, random each time', async () => {
    const line = generateKey()
    expect(line).toMatch(/^k\d{8}-[0-9a-f]{4}:[A-Za-z0-9+/]{43}=$/)
    expect(generateKey('mine')).toMatch(/^mine:/)
    expect(generateKey('mine')).not.toBe(generateKey('mine'))
    const provider = keysFromEnv(env(line))
    expect((await provider.activeKey()).id).toBe(line.split(':')[0])
    await expectXComError(() => generateKey('no spaces'), 'E_CONFIG')
  })
})

describe('staticKeys', () => {
  it('refuses no keys, bad ids, wrong lengths and duplicates, never quoting material', async () => {
    const material = new Uint8Array(31).fill(0xab)
    await expectXComError(() => staticKeys([]), 'E_CONFIG')
    await expectXComError(() => staticKeys([{ id: 'a/b', material: new Uint8Array(32) }]), 'E_CONFIG')
    const error = await expectXComError(() => staticKeys([{ id: 'a', material }]), 'E_CONFIG')
    expect(error.message).toMatch(/31 bytes/)
    expect(error.message).not.toMatch(/ab,ab|abab|171/)
    await expectXComError(() => staticKeys([newKey('a'), newKey('a')]), 'E_CONFIG')
  })

  it('copies the material: changing the caller array afterwards changes nothing', async () => {
    const key = newKey('a')
    const provider = staticKeys([key])
    const before = Buffer.from((await provider.activeKey()).material)
    key.material.fill(0)
    expect(Buffer.from((await provider.activeKey()).material).equals(before)).toBe(true)
  })
})

describe('key rotation', () => {
  it('the new active key encrypts; values of the old key still decrypt by their id', async () => {
    const old = newKey('k2025')
    const current = newKey('k2026')
    const before = aesGcmStream({ keys: staticKeys([old]) })
    const after = aesGcmStream({ keys: staticKeys([current, old]) })
    const plain = new Uint8Array(randomBytes(1000))
    const oldValue = await before.encrypt(plain, binding)
    const newValue = await after.encrypt(plain, binding)
    expect(after.keyIdOf(oldValue)).toBe('k2025')
    expect(after.keyIdOf(newValue)).toBe('k2026')
    expect(await after.activeKeyId()).toBe('k2026')
    expectBytes(await after.decrypt(oldValue, binding), plain)
    expectBytes(await after.decrypt(newValue, binding), plain)
    // The old configuration cannot read values of the new key: it says which key to add.
    const error = await expectXComError(before.decrypt(newValue, binding), 'E_CONFIG')
    expect(error.message).toContain('"k2026"')
  })
})

describe('encryptionFromEnv and keysFromModule', () => {
  it('is undefined without keys, an Encryption with them, E_CONFIG with both variables', async () => {
    expect(encryptionFromEnv({})).toBeUndefined()
    expect(encryptionFromEnv({ XCOM_ENCRYPTION_KEYS: '  ' })).toBeUndefined()
    const encryption = encryptionFromEnv(env(`a:${KEY_B64}`))
    expect(encryption?.name).toBe('aes256gcm-hkdf-stream-v1')
    expect(await encryption?.activeKeyId()).toBe('a')
    await expectXComError(
      () =>
        encryptionFromEnv({
          XCOM_ENCRYPTION_KEYS: `a:${KEY_B64}`,
          XCOM_ENCRYPTION_KEY_PROVIDER: './keys.js',
        }),
      'E_CONFIG',
    )
  })

  it('loads a provider (or a function returning one) from a module, once, and checks its keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xcom-keys-'))
    const file = join(dir, 'keys.mjs')
    const hex = randomBytes(32).toString('hex')
    writeFileSync(
      file,
      `const material = Uint8Array.from(Buffer.from('${hex}', 'hex'))\n` +
        `const key = { id: 'mod', material }\n` +
        `export const provider = { activeKey: async () => key, key: async (id) => (id === 'mod' ? key : undefined) }\n` +
        `export default () => provider\n` +
        `export const broken = { activeKey: async () => ({ id: 'x', material: new Uint8Array(3) }), key: async () => undefined }\n` +
        `export const notOne = 42\n`,
    )
    const encryption = encryptionFromEnv({ XCOM_ENCRYPTION_KEY_PROVIDER: `${file}#provider` })
    const plain = new Uint8Array(randomBytes(64))
    const sealed = (await encryption?.encrypt(plain, binding)) as Uint8Array
    expect(encryption?.keyIdOf(sealed)).toBe('mod')
    const viaDefault = aesGcmStream({ keys: keysFromModule(file) })
    expectBytes(await viaDefault.decrypt(sealed, binding), plain)
    await expectXComError(aesGcmStream({ keys: keysFromModule(`${file}#broken`) }).activeKeyId(), 'E_CONFIG')
    await expectXComError(keysFromModule(`${file}#notOne`).activeKey(), 'E_CONFIG')
    await expectXComError(keysFromModule(`${file}#missing`).activeKey(), 'E_CONFIG')
  })
})
