import { XComError } from '@xcom/core'

/** The variable keys are read from, named in every hint about a missing key. */
export const KEYS_VARIABLE = 'XCOM_ENCRYPTION_KEYS'

/** `E_CORRUPT`: the encrypted bytes do not authenticate; what is wrong is named, the plaintext never returned. */
export function corrupt(detail: string, uri?: string, cause?: unknown): XComError {
  const source = uri === undefined ? '' : ` at ${uri}`
  return new XComError(
    'E_CORRUPT',
    `Cannot decrypt the value${source}: ${detail}. The bytes are damaged, truncated, reordered or extended, were ` +
      'encrypted with another key of the same id, or belong to another XCom or record; nothing was returned. ' +
      'Push the value again.',
    { cause, uri },
  )
}

/** `E_CONFIG`: the value names a key the provider does not have. */
export function unknownKey(keyId: string, uri?: string): XComError {
  const source = uri === undefined ? '' : ` at ${uri}`
  return new XComError(
    'E_CONFIG',
    `Cannot decrypt the value${source}: it was encrypted with key "${keyId}", which the key provider does not know. ` +
      `Add that key to ${KEYS_VARIABLE} (as "${keyId}:<key>", after the active key) to read it.`,
    { uri },
  )
}

/** `E_CONFIG` for bad options or keys; callers never pass key material in `detail`. */
export function badConfig(detail: string): XComError {
  return new XComError('E_CONFIG', detail)
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
