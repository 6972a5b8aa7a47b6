import type { EncryptionBinding } from '@xcom/core'
import { XComError } from '@xcom/core'

const encoder = new TextEncoder()

/**
 * The canonical bytes of a binding: dagId, runId, taskId, mapIndex, key, recordId in this order; each string as a
 * 4-byte big-endian byte length then its UTF-8, mapIndex as a signed 64-bit big-endian integer.
 * @throws E_INVALID_KEY for a string that is not well-formed Unicode or a map index that is not a safe integer
 */
export function encodeBinding(binding: EncryptionBinding): Uint8Array {
  const fields = [binding.dagId, binding.runId, binding.taskId, binding.key, binding.recordId].map(
    (text, index) => {
      // Lone surrogates would encode as U+FFFD, so two different bindings could share bytes.
      if (typeof text !== 'string' || !text.isWellFormed()) {
        throw new XComError(
          'E_INVALID_KEY',
          `The encryption binding's ${FIELD_NAMES[index]} is not a well-formed string.`,
        )
      }
      return encoder.encode(text)
    },
  )
  if (!Number.isSafeInteger(binding.mapIndex)) {
    throw new XComError(
      'E_INVALID_KEY',
      `The encryption binding's mapIndex ${binding.mapIndex} is not an integer.`,
    )
  }
  const size = fields.reduce((total, field) => total + 4 + field.byteLength, 8)
  const bytes = new Uint8Array(size)
  const view = new DataView(bytes.buffer)
  let offset = 0
  fields.forEach((field, index) => {
    if (index === 3) {
      view.setBigInt64(offset, BigInt(binding.mapIndex))
      offset += 8
    }
    view.setUint32(offset, field.byteLength)
    bytes.set(field, offset + 4)
    offset += 4 + field.byteLength
  })
  return bytes
}

const FIELD_NAMES = ['dagId', 'runId', 'taskId', 'key', 'recordId']
