import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { CONNECTION_ENV_PREFIXES } from './connections.ts'
import { XComError, type XComErrorCode } from './errors.ts'
import { type LogFormat, type LogLevel, parseLogFormat, parseLogLevel } from './logger.ts'
import { maskText, maskUrl } from './mask.ts'

/** The environment as a plain record (process.env or a test's own). */
export type Env = Record<string, string | undefined>

/** A setting read from the environment, with the variable it came from (for messages). */
export interface EnvSetting {
  value: string
  variable: string
}

/** The variables xcom reads, xcom's own name first, then Airflow's spelling. */
export const ENV_VARIABLES = {
  backend: ['XCOM_BACKEND', 'AIRFLOW__CORE__XCOM_BACKEND'],
  metadataUrl: ['XCOM_METADATA_URL'],
  objectStoragePath: ['XCOM_OBJECTSTORAGE_PATH', 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH'],
  objectStorageThreshold: [
    'XCOM_OBJECTSTORAGE_THRESHOLD',
    'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD',
  ],
  objectStorageCompression: [
    'XCOM_OBJECTSTORAGE_COMPRESSION',
    'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION',
  ],
  objectStorageChecksum: ['XCOM_OBJECTSTORAGE_CHECKSUM'],
  encryptionKeys: ['XCOM_ENCRYPTION_KEYS'],
  encryptionKeyProvider: ['XCOM_ENCRYPTION_KEY_PROVIDER'],
  encryptInline: ['XCOM_ENCRYPTION_INLINE'],
  serializers: ['XCOM_SERIALIZERS'],
  logLevel: ['XCOM_LOG_LEVEL', 'AIRFLOW__LOGGING__LOGGING_LEVEL'],
  logFormat: ['XCOM_LOG_FORMAT'],
} as const

/**
 * The log level and format `env` sets (XCOM_LOG_LEVEL or Airflow's AIRFLOW__LOGGING__LOGGING_LEVEL, XCOM_LOG_FORMAT).
 * @throws XComError `E_CONFIG` naming the variable for a value that is not a level or a format.
 */
export function readLogSettings(env: Env): { level?: LogLevel; format?: LogFormat } {
  const level = readSetting(env, ENV_VARIABLES.logLevel)
  const format = readSetting(env, ENV_VARIABLES.logFormat)
  return {
    ...(level ? { level: parseLogLevel(level.value, level.variable) } : {}),
    ...(format ? { format: parseLogFormat(format.value, format.variable) } : {}),
  }
}

/** The embedded default metadata database, used when XCOM_METADATA_URL is unset. */
export const DEFAULT_METADATA_URL = 'sqlite://.xcom/xcom.db'

/** The backend loaded when XCOM_OBJECTSTORAGE_PATH is set and no backend is named. */
export const OBJECT_STORAGE_BACKEND = '@xcom/objectstore#ObjectStoreXComBackend'

/** Reads the first non-empty variable of `names`. */
export function readSetting(env: Env, names: readonly string[]): EnvSetting | undefined {
  for (const variable of names) {
    const value = env[variable]?.trim()
    if (value) return { value, variable }
  }
  return undefined
}

/** The effective xcom configuration read from an environment. */
export interface XComConfig {
  /** The backend to load (`module#Export`), and where that choice came from. */
  backend: EnvSetting | undefined
  metadataUrl: EnvSetting
  objectStoragePath: EnvSetting | undefined
  objectStorageThreshold: EnvSetting | undefined
  objectStorageCompression: EnvSetting | undefined
  /** The checksum algorithm of new objects (xcom's own setting; Airflow verifies nothing). */
  objectStorageChecksum: EnvSetting | undefined
  /** `id:key` entries (comma-separated, the first encrypts new values) of `@xcom/encryption`: secret. */
  encryptionKeys: EnvSetting | undefined
  /** `module#Export` of an encryption key provider, instead of the keys themselves. */
  encryptionKeyProvider: EnvSetting | undefined
  /** `true`: values kept in the metadata database are encrypted too. */
  encryptInline: EnvSetting | undefined
  /** `module#export` entries (comma-separated) that register types on the backend's serializer. */
  serializers: EnvSetting | undefined
  /** The lowest level logged (`XCOM_LOG_LEVEL`, or Airflow's `AIRFLOW__LOGGING__LOGGING_LEVEL`), as written. */
  logLevel: EnvSetting | undefined
  /** The default logger's line format (`XCOM_LOG_FORMAT`: text or json). */
  logFormat: EnvSetting | undefined
  /** Variables that define connections (`XCOM_CONN_*`, `AIRFLOW_CONN_*`). */
  connectionVariables: string[]
}

/** Reads the configuration from `env` without loading anything. */
export function readXComConfig(env: Env = process.env): XComConfig {
  const objectStoragePath = readSetting(env, ENV_VARIABLES.objectStoragePath)
  const backend =
    readSetting(env, ENV_VARIABLES.backend) ??
    (objectStoragePath ? { value: OBJECT_STORAGE_BACKEND, variable: objectStoragePath.variable } : undefined)
  return {
    backend,
    metadataUrl: readSetting(env, ENV_VARIABLES.metadataUrl) ?? {
      value: DEFAULT_METADATA_URL,
      variable: '(default)',
    },
    objectStoragePath,
    objectStorageThreshold: readSetting(env, ENV_VARIABLES.objectStorageThreshold),
    objectStorageCompression: readSetting(env, ENV_VARIABLES.objectStorageCompression),
    objectStorageChecksum: readSetting(env, ENV_VARIABLES.objectStorageChecksum),
    encryptionKeys: readSetting(env, ENV_VARIABLES.encryptionKeys),
    encryptionKeyProvider: readSetting(env, ENV_VARIABLES.encryptionKeyProvider),
    encryptInline: readSetting(env, ENV_VARIABLES.encryptInline),
    serializers: readSetting(env, ENV_VARIABLES.serializers),
    logLevel: readSetting(env, ENV_VARIABLES.logLevel),
    logFormat: readSetting(env, ENV_VARIABLES.logFormat),
    connectionVariables: Object.keys(env)
      .filter(
        (name) => CONNECTION_ENV_PREFIXES.some((prefix) => name.startsWith(prefix)) && env[name]?.trim(),
      )
      .sort(),
  }
}

/**
 * The configuration as `variable -> value` lines for printing: every setting through {@link maskUrl} (passwords and
 * secret query parameters), connection values not shown at all.
 */
export function printableConfig(config: XComConfig): Record<string, string> {
  const show = (setting: EnvSetting | undefined, fallback: string) =>
    setting ? `${maskUrl(setting.value)}  (from ${setting.variable})` : fallback
  return {
    backend: show(config.backend, 'BaseXComBackend (everything inline; default)'),
    metadataUrl: show(config.metadataUrl, DEFAULT_METADATA_URL),
    objectStoragePath: show(config.objectStoragePath, '(unset)'),
    objectStorageThreshold: show(config.objectStorageThreshold, '(unset: -1, everything in the database)'),
    objectStorageCompression: show(config.objectStorageCompression, '(unset: none)'),
    objectStorageChecksum: show(config.objectStorageChecksum, '(unset: crc32)'),
    encryptionKeys: config.encryptionKeys
      ? `${keyIdsOf(config.encryptionKeys.value)} (keys not shown; from ${config.encryptionKeys.variable})`
      : '(unset: no encryption)',
    encryptionKeyProvider: show(config.encryptionKeyProvider, '(unset)'),
    encryptInline: show(config.encryptInline, '(unset: false)'),
    serializers: show(config.serializers, '(unset: built-in types only)'),
    logLevel: show(config.logLevel, 'warn'),
    logFormat: show(config.logFormat, 'text'),
    connections: config.connectionVariables.map((name) => `${name}=***`).join(', ') || '(none)',
  }
}

/** The key ids of an `id:key,...` list, the first marked active: ids are not secret, keys are never shown. */
function keyIdsOf(list: string): string {
  const ids = list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => (entry.includes(':') ? entry.slice(0, entry.indexOf(':')).trim() : '?'))
  return ids.map((id, index) => (index === 0 ? `${id} (active)` : id)).join(', ')
}

/** Options of {@link importModule}. */
export interface ImportModuleOptions {
  /** Where the application lives: packages not visible from xcom itself are resolved from here. @default process.cwd() */
  cwd?: string
  /** The error raised when the package itself is not installed. @default E_CONFIG saying which package to install */
  whenMissing?: { code: XComErrorCode; message: string }
}

/**
 * Imports a package name, an absolute or relative file path, or a `file:` URL. Packages are resolved from xcom's own
 * location first, then from `cwd` (the application), so an adapter installed beside the app is found.
 * @throws XComError `E_CONFIG` naming `variable` and, for a missing package, the package to install (or the error
 * given as `whenMissing`); credentials in the specifier or the loader's message are masked.
 */
export async function importModule(
  specifier: string,
  variable: string,
  options: ImportModuleOptions = {},
): Promise<Record<string, unknown>> {
  const cwd = options.cwd ?? process.cwd()
  const isPath = specifier.startsWith('.') || isAbsolute(specifier) || specifier.startsWith('file:')
  const target = isPath
    ? specifier.startsWith('file:')
      ? specifier
      : pathToFileURL(resolve(cwd, specifier)).href
    : specifier
  if (isPath && !specifier.startsWith('file:') && !existsSync(resolve(cwd, specifier))) {
    throw configError(`${variable}: the module file ${maskUrl(resolve(cwd, specifier))} does not exist.`)
  }
  let failure: unknown
  for (const attempt of isPath
    ? [target]
    : [target, () => createRequire(join(cwd, 'package.json')).resolve(specifier)]) {
    try {
      return await import(typeof attempt === 'string' ? attempt : pathToFileURL(attempt()).href)
    } catch (error) {
      failure ??= error
      if (!isPackageMissing(error, specifier)) {
        failure = error
        break
      }
    }
  }
  if (!isPath && isPackageMissing(failure, specifier)) {
    const name = packageName(specifier)
    throw options.whenMissing
      ? new XComError(options.whenMissing.code, maskText(options.whenMissing.message), { cause: failure })
      : configError(
          `${variable} needs the package ${maskUrl(name)}, which is not installed: run \`npm install ${maskUrl(name)}\`.`,
          failure,
        )
  }
  throw configError(
    `${variable}: could not load ${maskUrl(specifier)}: ${maskText(String((failure as Error)?.message ?? failure))}`,
    failure,
  )
}

/** An `E_CONFIG` error whose message went through {@link maskText}, as a last guard for values it quotes. */
function configError(message: string, cause?: unknown): XComError {
  return new XComError('E_CONFIG', maskText(message), cause === undefined ? {} : { cause })
}

function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier)
}

/** True when `error` says that the package of `specifier` itself (not one of its dependencies) cannot be found. */
function isPackageMissing(error: unknown, specifier: string): boolean {
  const message = String((error as Error)?.message ?? '')
  const name = packageName(specifier).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(Cannot find (package|module) '${name}['/])|(Failed to load url ${name}( |/|$))`).test(
    message,
  )
}

/** Splits `module#Export` into its parts; without `#` the export is `default`. */
export function parseModuleSpec(spec: string): { module: string; exportName: string } {
  const hash = spec.lastIndexOf('#')
  return hash <= 0
    ? { module: spec, exportName: 'default' }
    : { module: spec.slice(0, hash), exportName: spec.slice(hash + 1) }
}

/** Imports `module#Export` and returns the export. @throws XComError `E_CONFIG` when it is missing. */
export async function importExport(
  spec: string,
  variable: string,
  options?: ImportModuleOptions,
): Promise<unknown> {
  const { module, exportName } = parseModuleSpec(spec)
  const loaded = await importModule(module, variable, options)
  if (!(exportName in loaded)) {
    const names = Object.keys(loaded).filter((name) => name !== 'default')
    const shown = maskUrl(module)
    throw configError(
      `${variable}=${maskUrl(spec)}: ${shown} has no export "${exportName}". Name one as "${shown}#Name"; it exports: ${names.join(', ') || '(nothing)'}.`,
    )
  }
  return loaded[exportName]
}
