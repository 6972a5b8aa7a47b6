import { allocateBytes } from '@xcom/core/adapter'
import type { SegmentCipher } from './cipher.ts'
import { corrupt } from './errors.ts'
import { bodyLayout, encryptedLength, HEADER_SIZE, type Header, segmentCount, TAG_SIZE } from './format.ts'

/** Encrypts a whole buffer: the header, then every segment sealed straight into one preallocated output. */
export function sealBuffer(cipher: SegmentCipher, header: Header, data: Uint8Array): Uint8Array {
  const size = data.byteLength
  const segmentSize = header.segmentSize
  const out = allocateBytes(encryptedLength(size, segmentSize))
  out.set(header.bytes, 0)
  const count = segmentCount(size, segmentSize)
  let offset = HEADER_SIZE
  for (let index = 0; index < count; index++) {
    const start = index * segmentSize
    const sealer = cipher.sealer(index, index === count - 1)
    const sealed = sealer.update(data.subarray(start, Math.min(size, start + segmentSize)))
    out.set(sealed, offset)
    offset += sealed.byteLength
    sealer.final()
    out.set(sealer.getAuthTag(), offset)
    offset += TAG_SIZE
  }
  return out
}

/** Decrypts a whole buffer whose header was read; the plaintext is returned only when every segment authenticates. */
export function openBuffer(
  cipher: SegmentCipher,
  header: Header,
  data: Uint8Array,
  uri?: string,
): Uint8Array {
  const { count, plainSize } = bodyLayout(data.byteLength - HEADER_SIZE, header.segmentSize, uri)
  const out = plainSize === 0 ? new Uint8Array(0) : allocateBytes(plainSize)
  let offset = HEADER_SIZE
  let written = 0
  for (let index = 0; index < count; index++) {
    const length = index === count - 1 ? plainSize - written : header.segmentSize
    try {
      const tag = data.subarray(offset + length, offset + length + TAG_SIZE)
      const opener = cipher.opener(index, index === count - 1, tag)
      out.set(opener.update(data.subarray(offset, offset + length)), written)
      opener.final()
    } catch (error) {
      throw corrupt(`segment ${index} of ${count} does not authenticate`, uri, error)
    }
    offset += length + TAG_SIZE
    written += length
  }
  return out
}
