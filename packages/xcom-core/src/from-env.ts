import { BaseXComBackend } from './backend.ts'
import {
  type Env,
  importExport,
  OBJECT_STORAGE_BACKEND,
  readLogSettings,
  readXComConfig,
  type XComConfig,
} from './config.ts'
import { EnvConnectionResolver } from './connections.ts'
import type { ConnectionResolver, MetadataStore, MetadataStoreFactory, XComBackend } from './contracts.ts'
import { XComError } from './errors.ts'
import type { LogFormat, Logger, LogLevel, LogStream } from './logger.ts'
import { maskText, maskUrl } from './mask.ts'
import { MemoryMetadataStore } from './memory-metadata-store.ts'
import type { SerializerRegistry } from './serializer/index.ts'
import type { TelemetryOptions } from './telemetry.ts'
import type { XComOptions } from './xcom-types.ts'

/** What a backend class may implement to be built by `XCom.fromEnv` (via XCOM_BACKEND). */
export interface BackendEnvContext {
  connections: ConnectionResolver
  config: XComConfig
  /** The serializer given to `XCom.fromEnv(env, { serializer })`: the backend built must use it as `serializer`. */
  serializer?: SerializerRegistry
}

/** Options of `XCom.fromEnv`: types to serialize beyond the built-in ones. */
export interface XComFromEnvOptions {
  /**
   * The serializer the backend uses, e.g. `new SerializerRegistry({ allow: ['geo.*'] }).registerClass(Point)`.
   * @default the backend's own
   */
  serializer?: SerializerRegistry
  /** Registers types on the backend's serializer, after those of XCOM_SERIALIZERS. */
  register?: (registry: SerializerRegistry) => void
  /** Where log lines go (console, pino, winston...). @default stderr */
  logger?: Logger
  /** @default XCOM_LOG_LEVEL (or AIRFLOW__LOGGING__LOGGING_LEVEL) of `env`, else `warn` */
  logLevel?: LogLevel
  /** @default XCOM_LOG_FORMAT of `env`, else `text` */
  logFormat?: LogFormat
  /** Where the default logger writes its lines. @default process.stderr */
  logStream?: LogStream
  /** OpenTelemetry's tracer and meter, or false. @default the global providers' */
  telemetry?: TelemetryOptions | false
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
  // Unset, the variable to name is the one to set: the default needs @xcom/sqlite, or another URL does without it.
  const named = variable === '(default)' ? `XCOM_METADATA_URL (unset, so ${url})` : variable
  const factory = (await importExport(`${pkg}#metadataStoreFactory`, named, {
    whenMissing: {
      code: 'E_CONFIG',
      message: `${named} needs the package ${pkg}, which is not installed: run \`npm install ${pkg}\`${variable === '(default)' ? ', or set XCOM_METADATA_URL (memory:// keeps rows in this process only)' : ''}.`,
    },
  })) as MetadataStoreFactory
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
      // The path in the spelling the user writes: Airflow's for an AIRFLOW__ setting.
      const pathVariable = stray.variable.startsWith('AIRFLOW__')
        ? 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH'
        : 'XCOM_OBJECTSTORAGE_PATH'
      throw new XComError(
        'E_CONFIG',
        `${stray.variable} is set but ${pathVariable} is not, so it would be ignored: set ${pathVariable} (e.g. ${pathVariable}=file:///var/lib/xcom) or unset ${stray.variable}.`,
      )
    }
    return new BaseXComBackend({ serializer: context.serializer })
  }
  const { variable } = config.backend
  // Module specifiers (node:fs#x) are shown as given; only URL-like ones may carry credentials.
  const spec = /\/\/|[@?]/.test(config.backend.value) ? maskUrl(config.backend.value) : config.backend.value
  const airflow = Object.hasOwn(AIRFLOW_BACKEND_CLASSES, config.backend.value)
    ? AIRFLOW_BACKEND_CLASSES[config.backend.value]
    : undefined
  if (airflow === 'inline') return new BaseXComBackend({ serializer: context.serializer })
  if (airflow === undefined && isPythonClassPath(config.backend.value)) {
    throw new XComError(
      'E_CONFIG',
      `${variable}=${spec} is a Python class path, which xcom cannot load: name a JavaScript backend as module#Export, a package or a file path and the class it exports, e.g. ${variable}=./my-backend.js#MyBackend or ${variable}=${OBJECT_STORAGE_BACKEND}.`,
    )
  }
  const exported = (await importExport(airflow ?? config.backend.value, variable)) as {
    fromEnv?: (env: Env, context: BackendEnvContext) => unknown
    new (options?: { serializer?: SerializerRegistry }): XComBackend
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
      backend =
        typeof exported.fromEnv === 'function'
          ? await exported.fromEnv(env, context)
          : context.serializer
            ? new exported({ serializer: context.serializer })
            : new exported()
    } catch (error) {
      throw backendFailed(error, `${variable}=${spec}`)
    }
  }
  if (!hasHooks(backend)) throw notBackend()
  return backend as XComBackend
}

/**
 * Airflow's own XCom backend classes, as an Airflow user has them in AIRFLOW__CORE__XCOM_BACKEND, and the xcom
 * backend that does the same job (`inline`: {@link BaseXComBackend}).
 */
export const AIRFLOW_BACKEND_CLASSES: Readonly<Record<string, string | undefined>> = {
  'airflow.providers.common.io.xcom.backend.XComObjectStorageBackend': OBJECT_STORAGE_BACKEND,
  'airflow.models.xcom.BaseXCom': 'inline',
  'airflow.sdk.bases.xcom.BaseXCom': 'inline',
}

/** `package.module.Class`: dotted identifiers, no `#`, `/` or JavaScript file extension. */
function isPythonClassPath(spec: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(spec) && !/\.(c|m)?(j|t)s$/.test(spec)
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

/**
 * Applies `XCom.fromEnv`'s serializer options and XCOM_SERIALIZERS to the backend's `serializer`: each entry of
 * XCOM_SERIALIZERS (`module#export`, comma-separated) is a function called with the registry, a class with
 * `static xcomClassname`, a serializer (`{ classname, version, test, serialize, deserialize }`) or a list of these.
 * @throws XComError `E_CONFIG` naming the setting when the backend has no serializer (or not the one given) or an
 * entry cannot be loaded or registered.
 */
export async function applySerializers(
  backend: XComBackend,
  config: XComConfig,
  options: XComFromEnvOptions,
): Promise<void> {
  const setting = config.serializers
  if (!setting && !options.register && !options.serializer) return
  const registry = (backend as { serializer?: unknown }).serializer
  const chosenBy = config.backend ? `the backend of ${config.backend.variable}` : 'the backend'
  if (options.serializer && registry !== options.serializer) {
    throw new XComError(
      'E_CONFIG',
      `XCom.fromEnv(env, { serializer }): ${chosenBy} does not use the serializer given: build it with context.serializer in its static fromEnv(env, context) (or pass { serializer } to its constructor), or give { register } instead.`,
    )
  }
  if (!isRegistry(registry)) {
    throw new XComError(
      'E_CONFIG',
      `${setting ? setting.variable : 'XCom.fromEnv(env, { register })'} needs a backend with a serializer (a SerializerRegistry as its "serializer" property), such as BaseXComBackend or ObjectStoreXComBackend; ${chosenBy} has none.`,
    )
  }
  for (const spec of setting?.value.split(',').map((part) => part.trim()) ?? []) {
    if (spec === '') continue
    const where = `${setting?.variable}=${spec}`
    if (!spec.includes('#')) {
      throw new XComError(
        'E_CONFIG',
        `${where}: name the export as module#export, e.g. ${setting?.variable}=./xcom-types.js#register (a function called with the registry).`,
      )
    }
    const exported = await importExport(spec, setting?.variable as string)
    try {
      registerExport(registry, exported, where)
    } catch (error) {
      throw registrationFailed(error, where)
    }
  }
  if (options.register) {
    try {
      options.register(registry)
    } catch (error) {
      throw registrationFailed(error, 'XCom.fromEnv(env, { register })')
    }
  }
}

function isRegistry(candidate: unknown): candidate is SerializerRegistry {
  const registry = candidate as Partial<SerializerRegistry> | undefined
  return typeof registry?.register === 'function' && typeof registry.registerClass === 'function'
}

function registerExport(registry: SerializerRegistry, exported: unknown, where: string): void {
  if (Array.isArray(exported)) {
    for (const item of exported) registerExport(registry, item, where)
  } else if (typeof exported === 'function' && 'xcomClassname' in exported) {
    registry.registerClass(exported as never)
  } else if (typeof exported === 'function') {
    ;(exported as (registry: SerializerRegistry) => void)(registry)
  } else if (typeof exported === 'object' && exported !== null && 'classname' in exported) {
    registry.register(exported as never)
  } else {
    throw new XComError(
      'E_CONFIG',
      `${where} is not a registration: export a function (registry) => { registry.registerClass(MyType) }, a class with static xcomClassname, a serializer { classname, version, test, serialize, deserialize } or a list of them.`,
    )
  }
}

/** A failed registration, naming where it came from; an XComError naming it already is kept. */
function registrationFailed(error: unknown, where: string): XComError {
  const message = maskText((error as Error)?.message ?? String(error))
  if (XComError.is(error) && message.includes(where)) return error
  return new XComError(
    XComError.is(error) ? error.code : 'E_CONFIG',
    `Registering the serializers of ${where}: ${message}`,
    { cause: error },
  )
}

/**
 * What `XCom.fromEnv` builds an XCom with: the metadata store and backend the variables name, the serializers they
 * register, the log level and format they set, and the caller's logger and telemetry. Closes the store on failure.
 */
export async function xcomOptionsFromEnv(env: Env, options: XComFromEnvOptions): Promise<XComOptions> {
  const config = readXComConfig(env)
  const metadata = await openMetadataStore(config)
  try {
    const { serializer } = options
    const backend = await loadBackend(config, env, {
      connections: new EnvConnectionResolver(env),
      config,
      ...(serializer ? { serializer } : {}),
    })
    await applySerializers(backend, config, options)
    const log = readLogSettings(env)
    return {
      metadata,
      backend,
      logLevel: options.logLevel ?? log.level ?? 'warn',
      logFormat: options.logFormat ?? log.format ?? 'text',
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.logStream ? { logStream: options.logStream } : {}),
      ...(options.telemetry !== undefined ? { telemetry: options.telemetry } : {}),
    }
  } catch (error) {
    await metadata.close()
    throw error
  }
}
