import type { EncryptionKey, EncryptionKeyProvider } from '@xcom/core'
import { importExport } from '@xcom/core/adapter'
import { badConfig } from './errors.ts'
import { checkKey } from './keys.ts'

/** The variable `encryptionFromEnv` reads a provider module from. */
export const PROVIDER_VARIABLE = 'XCOM_ENCRYPTION_KEY_PROVIDER'

/**
 * The key provider exported by a module of the user's: `spec` is `module#Export` (a package or a file path; without
 * `#` the default export), the export an {@link EncryptionKeyProvider} or a function returning one (may be async).
 * The module is loaded on first use, once; the keys it returns are checked like those of `staticKeys`.
 * @throws E_CONFIG (on first use) when the module or export is missing or is not a provider
 */
export function keysFromModule(spec: string, variable = PROVIDER_VARIABLE): EncryptionKeyProvider {
  let loading: Promise<EncryptionKeyProvider> | undefined
  const provider = () => {
    loading ??= load(spec, variable)
    return loading
  }
  return {
    activeKey: async () => checked(await (await provider()).activeKey(), `${variable}: the active key`),
    key: async (id) => {
      const key = await (await provider()).key(id)
      return key === undefined ? undefined : checked(key, `${variable}: key "${id}"`)
    },
  }
}

async function load(spec: string, variable: string): Promise<EncryptionKeyProvider> {
  const exported = await importExport(spec, variable)
  const provider = typeof exported === 'function' ? await (exported as () => unknown)() : exported
  const candidate = provider as Partial<EncryptionKeyProvider> | null
  if (typeof candidate?.activeKey !== 'function' || typeof candidate.key !== 'function') {
    throw badConfig(
      `${variable}=${spec}: the export is not an encryption key provider (an object with activeKey() and key(id)) ` +
        'nor a function returning one.',
    )
  }
  return candidate as EncryptionKeyProvider
}

function checked(key: EncryptionKey, where: string): EncryptionKey {
  checkKey(key, where)
  return key
}
