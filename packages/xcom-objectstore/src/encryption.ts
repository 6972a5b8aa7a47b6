import type { Bytes, Encryption, EncryptionBinding, StoredValue, XComContext } from '@xcom/core'
import { XComError } from '@xcom/core'
import { activeTelemetry, plainBytes } from '@xcom/core/adapter'

/**
 * Marks inline data the backend encrypted: `xcom-encrypted:<format>:<base64>`. Serialized JSON never starts with a
 * letter other than `t`, `f` or `n`, so no value the serializer writes can be mistaken for it.
 */
const INLINE_PREFIX = 'xcom-encrypted:'

/** What encryption binds a value to: its XCom and its record. */
export function bindingOf(ctx: XComContext): EncryptionBinding {
  const { dagId, runId, taskId, mapIndex, key, recordId } = ctx
  return { dagId, runId, taskId, mapIndex, key, recordId }
}

/** Encrypts `bytes` in span `xcom.encrypt`; returns the ciphertext and the id of the key that sealed it. */
export async function encryptBytes(
  encryption: Encryption,
  bytes: Bytes,
  ctx: XComContext,
): Promise<{ sealed: Bytes; keyId: string }> {
  return activeTelemetry().span('xcom.encrypt', { 'xcom.encryption': encryption.name }, async (span) => {
    const sealed = plainBytes(await encryption.encrypt(bytes, bindingOf(ctx)))
    const keyId = encryption.keyIdOf(sealed.subarray(0, 256))
    if (span.recording)
      span.set({ 'xcom.value.stored_size': sealed.byteLength, 'xcom.encryption.key_id': keyId })
    return { sealed, keyId }
  })
}

/** Decrypts `bytes` of the value at `uri` in span `xcom.decrypt`. @throws E_CONFIG, E_CORRUPT (see `Encryption`) */
export async function decryptBytes(
  encryption: Encryption,
  bytes: Bytes,
  ctx: XComContext,
  uri: string,
): Promise<Bytes> {
  return activeTelemetry().span('xcom.decrypt', { 'xcom.encryption': encryption.name }, async () =>
    plainBytes(await encryption.decrypt(bytes, bindingOf(ctx), { uri })),
  )
}

/** Inline data encrypted and marked (see {@link INLINE_PREFIX}). */
export async function sealInline(
  encryption: Encryption,
  data: string,
  ctx: XComContext,
): Promise<StoredValue> {
  const { sealed } = await encryptBytes(encryption, plainBytes(Buffer.from(data, 'utf8')), ctx)
  const marked = `${INLINE_PREFIX}${encryption.name}:${Buffer.from(sealed).toString('base64')}`
  return { kind: 'inline', data: marked, size: marked.length }
}

/** True when inline data was encrypted by the backend. */
export function isSealedInline(data: string): boolean {
  return data.startsWith(INLINE_PREFIX)
}

/** The sealed bytes of marked inline data (`E_CORRUPT` when the mark is damaged). */
function sealedOf(data: string, where: string): Bytes {
  const body = data.slice(INLINE_PREFIX.length)
  const colon = body.indexOf(':')
  const base64 = body.slice(colon + 1)
  if (colon <= 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
    throw new XComError(
      'E_CORRUPT',
      `The encrypted inline value of ${where} is damaged: its row was changed.`,
    )
  }
  return plainBytes(Buffer.from(base64, 'base64'))
}

/**
 * The plain inline data of marked inline data, decrypted.
 * @throws XComError `E_CONFIG` when no encryption is configured; the encryption's `E_CONFIG`/`E_CORRUPT`.
 */
export async function openInline(
  encryption: Encryption | undefined,
  data: string,
  ctx: XComContext,
  where: string,
): Promise<StoredValue> {
  const sealed = sealedOf(data, where)
  const plain = await decryptBytes(requireEncryption(encryption, where), sealed, ctx, where)
  const text = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength).toString('utf8')
  return { kind: 'inline', data: text, size: plain.byteLength }
}

/** The key id sealed inline data names (for rotation). @throws E_CORRUPT */
export function inlineKeyId(encryption: Encryption, data: string, where: string): string {
  return encryption.keyIdOf(sealedOf(data, where).subarray(0, 256))
}

/**
 * The backend's encryption, when a value needs one to be read.
 * @throws XComError `E_CONFIG` naming the value and the variable to set when the backend has none.
 */
export function requireEncryption(encryption: Encryption | undefined, where: string): Encryption {
  if (encryption) return encryption
  throw new XComError(
    'E_CONFIG',
    `${where} is encrypted, and this backend has no encryption configured: set XCOM_ENCRYPTION_KEYS (or pass encryption to ObjectStoreXComBackend) with the key that encrypted it.`,
    where.includes('://') ? { uri: where } : {},
  )
}
