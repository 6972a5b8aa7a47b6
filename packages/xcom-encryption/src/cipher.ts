import { Buffer } from 'node:buffer'
import {
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  createHash,
  type DecipherGCM,
  hkdfSync,
} from 'node:crypto'
import type { EncryptionBinding } from '@xcom/core'
import { encodeBinding } from './binding.ts'
import { FORMAT_NAME, type Header, MAX_SEGMENTS, TAG_SIZE } from './format.ts'

/** The ASCII label that starts every HKDF info. */
export const HKDF_LABEL = `xcom-encryption/${FORMAT_NAME}`

/**
 * The HKDF-SHA256 info: label, 0x00, key id length (1 byte), key id, SHA-256 of the binding's canonical bytes.
 * The binding is hashed because node:crypto caps the info at 1024 bytes.
 */
export function hkdfInfo(keyId: string, binding: EncryptionBinding): Buffer {
  const id = Buffer.from(keyId, 'ascii')
  const digest = createHash('sha256').update(encodeBinding(binding)).digest()
  return Buffer.concat([Buffer.from(HKDF_LABEL, 'ascii'), Buffer.of(0, id.byteLength), id, digest])
}

/**
 * The AES-256-GCM sealing and opening of one value's segments: its key, derived once, and its header, which every
 * segment authenticates as additional data.
 */
export class SegmentCipher {
  private readonly key: Buffer
  private readonly aad: Uint8Array
  private readonly nonce = Buffer.alloc(12)

  constructor(material: Uint8Array, header: Header, binding: EncryptionBinding) {
    this.key = Buffer.from(hkdfSync('sha256', material, header.salt, hkdfInfo(header.keyId, binding), 32))
    this.aad = header.bytes
    this.nonce.set(header.noncePrefix, 0)
  }

  /** A cipher for segment `counter`; the caller feeds it the plaintext, then calls `final()` and `getAuthTag()`. */
  sealer(counter: number, final: boolean): CipherGCM {
    const cipher = createCipheriv('aes-256-gcm', this.key, this.setNonce(counter, final), {
      authTagLength: TAG_SIZE,
    })
    cipher.setAAD(this.aad)
    return cipher
  }

  /** A decipher for segment `counter` expecting `tag`; `final()` throws unless the segment authenticates. */
  opener(counter: number, final: boolean, tag: Uint8Array): DecipherGCM {
    const decipher = createDecipheriv('aes-256-gcm', this.key, this.setNonce(counter, final), {
      authTagLength: TAG_SIZE,
    })
    decipher.setAAD(this.aad)
    decipher.setAuthTag(tag)
    return decipher
  }

  /** Nonce = prefix (7 bytes) || counter (4 bytes, big-endian) || 0x01 for the final segment, else 0x00. */
  private setNonce(counter: number, final: boolean): Buffer {
    if (counter >= MAX_SEGMENTS) throw new RangeError(`segment counter ${counter} overflows 32 bits`)
    this.nonce.writeUInt32BE(counter, 7)
    this.nonce[11] = final ? 1 : 0
    return this.nonce
  }
}
