import { type Encryption, formatIdentity, type StoredValue, type XComContext, XComError } from '@xcom/core'
import type { CodecLookup } from './codecs.ts'
import { inlineKeyId, isSealedInline, openInline, sealInline } from './encryption.ts'
import type { BackendSettings } from './options.ts'
import { openStoredStream } from './read.ts'
import { checkReference } from './reference.ts'
import type { ValueWriter } from './write.ts'

/**
 * Key rotation for `ObjectStoreXComBackend`: which stored values are not under the active key, and their values sealed
 * again. Objects are re-encrypted from their stored bytes, streamed, without decompressing them.
 */
export class Resealer {
  readonly #settings: BackendSettings
  readonly #codecs: CodecLookup
  readonly #writer: ValueWriter

  constructor(settings: BackendSettings, codecs: CodecLookup, writer: ValueWriter) {
    this.#settings = settings
    this.#codecs = codecs
    this.#writer = writer
  }

  /** See `XComBackend.activeKeyId`. @throws XComError `E_CONFIG` when the backend has no encryption. */
  activeKeyId(): Promise<string> {
    return this.#encryption().activeKeyId()
  }

  /** See `XComBackend.needsReencryption`. @throws XComError `E_CONFIG` when the backend has no encryption. */
  async needsReencryption(stored: StoredValue, ctx: XComContext): Promise<boolean> {
    const encryption = this.#encryption()
    const active = await encryption.activeKeyId()
    if (stored.kind === 'reference') return stored.ref.encryption === undefined || stored.ref.keyId !== active
    if (stored.kind !== 'inline') return false
    if (isSealedInline(stored.data))
      return inlineKeyId(encryption, stored.data, formatIdentity(ctx)) !== active
    return this.#settings.encryptInline
  }

  /** See `XComBackend.reencrypt`. */
  async reencrypt(stored: StoredValue, from: XComContext, to: XComContext): Promise<StoredValue> {
    const encryption = this.#encryption()
    if (stored.kind === 'inline') {
      const plain = isSealedInline(stored.data)
        ? await openInline(encryption, stored.data, from, formatIdentity(from))
        : stored
      return sealInline(encryption, plain.kind === 'inline' ? plain.data : '', to)
    }
    if (stored.kind !== 'reference')
      throw new XComError('E_CORRUPT', `XCom ${formatIdentity(from)} is malformed: nothing to re-encrypt.`)
    const { ref, codec } = await checkReference(stored, from, this.#codecs, this.#settings.maxValueSize)
    const bytes = await openStoredStream(this.#settings.store, ref, from, encryption)
    return this.#writer.reseal(to, ref, codec, bytes)
  }

  #encryption(): Encryption {
    const { encryption } = this.#settings
    if (encryption) return encryption
    throw new XComError(
      'E_CONFIG',
      'Key rotation needs encryption: set XCOM_ENCRYPTION_KEYS to "<new id>:<key>,<old id>:<key>" (the first encrypts new values), or XCOM_ENCRYPTION_KEY_PROVIDER, or pass encryption to ObjectStoreXComBackend.',
    )
  }
}
