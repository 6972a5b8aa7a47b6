import { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import type { EncryptionKey, EncryptionKeyProvider } from '@xcom/core'
import { badConfig, KEYS_VARIABLE } from './errors.ts'
import { KEY_ID_PATTERN } from './format.ts'

/** Bytes of a master key. */
export const KEY_SIZE = 32

/**
 * A key provider holding `keys`: the first is active (encrypts new values), the others only decrypt. The material
 * is copied, so changing the arrays afterwards changes nothing.
 * @throws E_CONFIG for no keys, a bad id, a key that is not 32 bytes, or an id given twice
 */
export function staticKeys(keys: readonly EncryptionKey[]): EncryptionKeyProvider {
  if (keys.length === 0)
    throw badConfig('staticKeys() needs at least one key: the first one is the active key.')
  const byId = new Map<string, EncryptionKey>()
  for (const [index, key] of keys.entries()) {
    checkKey(key, `staticKeys(): key ${index + 1}`)
    if (byId.has(key.id))
      throw badConfig(`staticKeys(): the key id "${key.id}" is given twice; ids must be unique.`)
    byId.set(key.id, Object.freeze({ id: key.id, material: new Uint8Array(key.material) }))
  }
  const active = byId.get((keys[0] as EncryptionKey).id) as EncryptionKey
  return {
    activeKey: async () => active,
    key: async (id) => byId.get(id),
  }
}

/**
 * The keys of `XCOM_ENCRYPTION_KEYS`: comma-separated `id:key` entries, the key 32 bytes as base64 (standard or
 * url-safe, padding optional) or 64 hex digits. The first entry is active; the others only decrypt.
 * @throws E_CONFIG when the variable is unset or an entry is malformed; messages never quote key material
 */
export function keysFromEnv(env: Record<string, string | undefined> = process.env): EncryptionKeyProvider {
  const text = env[KEYS_VARIABLE]
  if (text === undefined || text.trim() === '') {
    throw badConfig(
      `${KEYS_VARIABLE} is not set: set it to "id:key" entries separated by commas, the first being the active ` +
        'key; `generateKey()` of @xcom/encryption prints a new entry.',
    )
  }
  return staticKeys(parseKeyList(text))
}

/** Parses a `XCOM_ENCRYPTION_KEYS` value into keys, in order. @throws E_CONFIG, never quoting key material */
export function parseKeyList(text: string): EncryptionKey[] {
  const entries = text.split(',').map((entry) => entry.trim())
  const keys: EncryptionKey[] = []
  const seen = new Set<string>()
  for (const [index, entry] of entries.entries()) {
    // An empty entry (a trailing comma, a blank line) holds nothing to misread.
    if (entry === '') continue
    const where = `${KEYS_VARIABLE}, entry ${index + 1}`
    const colon = entry.indexOf(':')
    if (colon < 0) throw badConfig(`${where} is not of the form "id:key" (no ":" found).`)
    const id = entry.slice(0, colon).trim()
    // An id that fails the pattern is not quoted: it may be key material pasted in the wrong place.
    if (!KEY_ID_PATTERN.test(id)) {
      throw badConfig(`${where}: the key id must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" and "-".`)
    }
    if (seen.has(id)) throw badConfig(`${where}: the key id "${id}" is given twice; ids must be unique.`)
    seen.add(id)
    keys.push({ id, material: decodeKey(entry.slice(colon + 1).trim(), `${where} (key "${id}")`) })
  }
  if (keys.length === 0) throw badConfig(`${KEYS_VARIABLE} holds no "id:key" entry.`)
  return keys
}

/**
 * A new key as a line for `XCOM_ENCRYPTION_KEYS`: `id:base64` with 32 random bytes. Put it first to make it the
 * active key and keep the old entries after it, so values they encrypted still decrypt.
 * @param id The key id; by default `k` and the date and 4 random hex digits, e.g. `k20261203-5f0a`.
 */
export function generateKey(id?: string): string {
  const keyId =
    id ?? `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(2).toString('hex')}`
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw badConfig(`generateKey(): the key id must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" and "-".`)
  }
  return `${keyId}:${randomBytes(KEY_SIZE).toString('base64')}`
}

/** Checks a key's id and material length. @throws E_CONFIG naming `where`, never the material */
export function checkKey(key: EncryptionKey, where: string): void {
  if (typeof key?.id !== 'string' || !KEY_ID_PATTERN.test(key.id)) {
    throw badConfig(`${where}: the key id must be 1-64 characters of A-Z, a-z, 0-9, ".", "_" and "-".`)
  }
  if (!(key.material instanceof Uint8Array) || key.material.byteLength !== KEY_SIZE) {
    const length = key.material instanceof Uint8Array ? `${key.material.byteLength} bytes` : 'not bytes'
    throw badConfig(`${where}: the key "${key.id}" is ${length}; it must be ${KEY_SIZE} random bytes.`)
  }
}

const HEX = /^[0-9a-fA-F]{64}$/
const BASE64 = /^[A-Za-z0-9+/]{43}=?$/
const BASE64URL = /^[A-Za-z0-9_-]{43}=?$/

function decodeKey(text: string, where: string): Uint8Array {
  if (HEX.test(text)) return new Uint8Array(Buffer.from(text, 'hex'))
  const base64 = BASE64.test(text)
  if (base64 || BASE64URL.test(text)) {
    const bytes = Buffer.from(text, base64 ? 'base64' : 'base64url')
    // The last character carries 4 spare bits: only one spelling of each key is accepted.
    const again = bytes.toString(base64 ? 'base64' : 'base64url').replace(/=+$/, '')
    if (bytes.byteLength === KEY_SIZE && again === text.replace(/=+$/, '')) return new Uint8Array(bytes)
  }
  const decoded = /^[A-Za-z0-9+/_-]*={0,2}$/.test(text)
    ? `${Buffer.from(text, 'base64').byteLength} bytes`
    : 'unreadable'
  throw badConfig(
    `${where}: the key is ${decoded}; it must be ${KEY_SIZE} bytes written as base64 (44 characters, standard or ` +
      'url-safe) or as 64 hex digits.',
  )
}
