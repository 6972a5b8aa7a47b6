import { BaseXComBackend } from './backend.ts'
import { type Env, importExport, type XComConfig } from './config.ts'
import type { ConnectionResolver, MetadataStore, MetadataStoreFactory, XComBackend } from './contracts.ts'
import { XComError } from './errors.ts'
import { maskText, maskUrl } from './mask.ts'
import { MemoryMetadataStore } from './memory-metadata-store.ts'

/** What a backend class may implement to be built by `XCom.fromEnv` (via XCOM_BACKEND). */
export interface BackendEnvContext {
  connections: ConnectionResolver
  config: XComConfig
}

/** Opens the metadata store XCOM_METADATA_URL names, importing its adapter package only now. */
export async function openMetadataStore(config: XComConfig): Promise<MetadataStore> {
  const { value: url, variable } = config.metadataUrl
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme === 'memory') return new MemoryMetadataStore()
  const pkg =
    scheme === 'sqlite'
      ? '@xcom/sqlite'
      : scheme === 'postgres' || scheme === 'postgresql'
        ? '@xcom/postgres'
        : undefined
  if (!pkg) {
    throw new XComError(
      'E_CONFIG',
      `${variable} has ${scheme ? `the unknown scheme "${scheme}://"` : 'no scheme'}: use memory://, sqlite://path/to/xcom.db or postgres://user@host/db.`,
    )
  }
  const factory = (await importExport(`${pkg}#metadataStoreFactory`, variable)) as MetadataStoreFactory
  if (typeof factory !== 'function')
    throw new XComError('E_CONFIG', `${pkg} does not export a metadataStoreFactory(url).`)
  return factory(url)
}

/** Builds the backend XCOM_BACKEND (or XCOM_OBJECTSTORAGE_PATH) names; none: everything inline. */
export async function loadBackend(
  config: XComConfig,
  env: Env,
  context: BackendEnvContext,
): Promise<XComBackend> {
  if (!config.backend) {
    // Object storage settings without a path would be ignored: say so instead of keeping everything inline silently.
    const stray = [
      config.objectStorageThreshold,
      config.objectStorageCompression,
      config.objectStorageChecksum,
    ].find((setting) => setting !== undefined)
    if (stray) {
      throw new XComError(
        'E_CONFIG',
        `${stray.variable} is set but XCOM_OBJECTSTORAGE_PATH (or AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH) is not, so it would be ignored: set the path (e.g. file:///var/lib/xcom) or unset ${stray.variable}.`,
      )
    }
    return new BaseXComBackend()
  }
  const { variable } = config.backend
  // Module specifiers (node:fs#x) are shown as given; only URL-like ones may carry credentials.
  const spec = /\/\/|[@?]/.test(config.backend.value) ? maskUrl(config.backend.value) : config.backend.value
  const exported = (await importExport(config.backend.value, variable)) as {
    fromEnv?: (env: Env, context: BackendEnvContext) => unknown
    new (): XComBackend
  }
  const notBackend = () =>
    new XComError(
      'E_CONFIG',
      `${variable}=${spec} is not an XCom backend: export a class (optionally with static fromEnv(env, context)) or an object with ${BACKEND_HOOKS.join(', ')}.`,
    )
  let backend: unknown = exported
  if (typeof exported === 'function') {
    // A plain function (node:fs#readFile) is not called: only a class with the hooks, or one with fromEnv.
    if (typeof exported.fromEnv !== 'function' && !hasHooks(exported.prototype)) throw notBackend()
    try {
      backend = typeof exported.fromEnv === 'function' ? await exported.fromEnv(env, context) : new exported()
    } catch (error) {
      throw backendFailed(error, `${variable}=${spec}`)
    }
  }
  if (!hasHooks(backend)) throw notBackend()
  return backend as XComBackend
}

const BACKEND_HOOKS = ['serializeValue', 'deserializeValue', 'purge', 'display'] as const

function hasHooks(candidate: unknown): boolean {
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    BACKEND_HOOKS.every((hook) => typeof (candidate as Record<string, unknown>)[hook] === 'function')
  )
}

/** An error building the backend, naming the setting that chose it; an XComError keeps its code. */
function backendFailed(error: unknown, setting: string): XComError {
  const message = maskText((error as Error)?.message ?? String(error))
  if (XComError.is(error)) {
    return message.includes(setting.split('=')[0] as string)
      ? error
      : new XComError(error.code, `Building the backend of ${setting}: ${message}`, {
          cause: error.cause ?? error,
          uri: error.uri,
        })
  }
  return new XComError(
    'E_CONFIG',
    `Building the backend of ${setting} failed: ${message}. Check that setting.`,
    {
      cause: error,
    },
  )
}
