import { randomBytes } from 'node:crypto'
import type { Encryption, EncryptionBinding, EncryptionKey, EncryptionKeyProvider } from '@xcom/core'
import { encodeBinding } from './binding.ts'
import { openBuffer, sealBuffer } from './buffer.ts'
import { SegmentCipher } from './cipher.ts'
import { badConfig, unknownKey } from './errors.ts'
import {
  encryptedLength,
  FORMAT_NAME,
  type Header,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  PREFIX_SIZE,
  readHeader,
  SALT_SIZE,
  writeHeader,
} from './format.ts'
import { checkKey } from './keys.ts'
import { openStream, sealStream } from './stream.ts'

/** The default plaintext bytes per segment. */
export const DEFAULT_SEGMENT_SIZE = 64 * 1024

/** Options of {@link aesGcmStream}. */
export interface AesGcmStreamOptions {
  /** Where keys come from: `keysFromEnv()`, `staticKeys([...])`, `keysFromModule(spec)` or your own provider. */
  keys: EncryptionKeyProvider
  /**
   * Plaintext bytes per segment of new values, recorded in their header (reading uses the header's), from 16 to
   * 16 MiB. Memory of a stream is about two segments.
   * @default 65536
   */
  segmentSize?: number
  /**
   * For test vectors only: the source of each value's salt (32 bytes) and nonce prefix (7 bytes), asked in that
   * order. Anything but a cryptographic random source makes encryption unsafe.
   * @default node:crypto randomBytes
   */
  random?: (size: number) => Uint8Array
}

/**
 * The `aes256gcm-hkdf-stream-v1` encryption: a versioned header, a per-value key derived with HKDF-SHA256 from the
 * master key, a random salt and the binding, and the value in AES-256-GCM segments whose nonce numbers them and
 * marks the last one (the STREAM construction), so truncation, reordering and appending all fail.
 * @throws E_CONFIG for a bad `segmentSize` or `keys`
 */
export function aesGcmStream(options: AesGcmStreamOptions): Encryption {
  const keys = options.keys
  if (typeof keys?.activeKey !== 'function' || typeof keys.key !== 'function') {
    throw badConfig('aesGcmStream(): `keys` must be an encryption key provider, e.g. keysFromEnv().')
  }
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE
  if (!Number.isInteger(segmentSize) || segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw badConfig(
      `aesGcmStream(): segmentSize ${segmentSize} must be an integer from ${MIN_SEGMENT_SIZE} to ${MAX_SEGMENT_SIZE}.`,
    )
  }
  const random = options.random ?? randomBytes

  const activeKey = async (): Promise<EncryptionKey> => {
    const key = await keys.activeKey()
    checkKey(key, 'the active encryption key')
    return key
  }
  const randomField = (size: number): Uint8Array => {
    const bytes = random(size)
    if (bytes.byteLength !== size)
      throw badConfig(`aesGcmStream(): random(${size}) returned ${bytes.byteLength} bytes.`)
    return bytes
  }
  /** A new value's header and cipher, under the active key. */
  const starting = async (binding: EncryptionBinding): Promise<[Header, SegmentCipher]> => {
    const key = await activeKey()
    const bytes = writeHeader(segmentSize, key.id, randomField(SALT_SIZE), randomField(PREFIX_SIZE))
    const header = readHeader(bytes)
    return [header, new SegmentCipher(key.material, header, binding)]
  }
  /** The cipher of a stored value, under the key its header names. */
  const opening = async (
    header: Header,
    binding: EncryptionBinding,
    uri?: string,
  ): Promise<SegmentCipher> => {
    const key = await keys.key(header.keyId)
    if (key === undefined) throw unknownKey(header.keyId, uri)
    checkKey(key, `encryption key "${header.keyId}"`)
    return new SegmentCipher(key.material, header, binding)
  }

  return {
    name: FORMAT_NAME,
    activeKeyId: async () => (await activeKey()).id,
    encryptedSize: (size) => encryptedLength(size, segmentSize),
    keyIdOf: (head) => readHeader(head).keyId,
    encrypt: async (data, binding) => {
      const [header, cipher] = await starting(binding)
      return sealBuffer(cipher, header, data)
    },
    decrypt: async (data, binding, decryptOptions) => {
      const uri = decryptOptions?.uri
      const header = readHeader(data, uri)
      return openBuffer(await opening(header, binding, uri), header, data, uri)
    },
    encryptStream: async (binding) => {
      const [header, cipher] = await starting(binding)
      return sealStream(cipher, header)
    },
    decryptStream: (binding, decryptOptions) => {
      const uri = decryptOptions?.uri
      // A bad binding fails here, not at the first chunk.
      encodeBinding(binding)
      return openStream((header) => opening(header, binding, uri), uri)
    },
  }
}
