import type { Encryption } from '@xcom/core'
import { type AesGcmStreamOptions, aesGcmStream } from './aes-gcm-stream.ts'
import { badConfig, KEYS_VARIABLE } from './errors.ts'
import { keysFromEnv } from './keys.ts'
import { keysFromModule, PROVIDER_VARIABLE } from './module-keys.ts'

/**
 * The encryption the environment asks for: {@link aesGcmStream} with the keys of `XCOM_ENCRYPTION_KEYS`, or of the
 * provider module named by `XCOM_ENCRYPTION_KEY_PROVIDER` (`module#Export`); undefined when neither is set.
 * @throws E_CONFIG when both are set or the keys are malformed
 */
export function encryptionFromEnv(
  env: Record<string, string | undefined> = process.env,
  options: Omit<AesGcmStreamOptions, 'keys'> = {},
): Encryption | undefined {
  const keys = env[KEYS_VARIABLE]?.trim() ?? ''
  const provider = env[PROVIDER_VARIABLE]?.trim() ?? ''
  if (keys !== '' && provider !== '') {
    throw badConfig(`Set either ${KEYS_VARIABLE} or ${PROVIDER_VARIABLE}, not both: they name the same keys.`)
  }
  if (provider !== '') return aesGcmStream({ ...options, keys: keysFromModule(provider) })
  return keys === '' ? undefined : aesGcmStream({ ...options, keys: keysFromEnv(env) })
}
