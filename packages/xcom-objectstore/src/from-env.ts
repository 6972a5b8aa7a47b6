import {
  type Codec,
  type Encryption,
  type Env,
  type EnvSetting,
  readXComConfig,
  type XComConfig,
  XComError,
} from '@xcom/core'
import {
  type BackendEnvContext,
  EnvConnectionResolver,
  importModule,
  missingConnection,
} from '@xcom/core/adapter'
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, isChecksumAlgorithm } from './checksum.ts'
import { codecNamed } from './codecs.ts'
import type { ObjectStoreXComBackendOptions } from './options.ts'
import { objectStoreFromUrl, parseObjectStorageUrl } from './url.ts'

/**
 * The backend options XCOM_OBJECTSTORAGE_PATH, _THRESHOLD and _COMPRESSION (or their AIRFLOW__COMMON_IO__ spellings)
 * and XCOM_OBJECTSTORAGE_CHECKSUM describe, the store built and the codec found (through `@xcom/compression`,
 * imported only then).
 * @throws XComError `E_CONFIG` naming the variable at fault (or the package to install); `E_UNKNOWN_SCHEME` naming the
 * adapter package a URL needs.
 */
export async function optionsFromEnv(
  env: Env,
  context: Partial<BackendEnvContext>,
): Promise<ObjectStoreXComBackendOptions> {
  const config = context.config ?? readXComConfig(env)
  const path = config.objectStoragePath
  if (!path) {
    // Named in the spelling the backend was chosen with: Airflow's for AIRFLOW__CORE__XCOM_BACKEND.
    const [first, second] = config.backend?.variable.startsWith('AIRFLOW__')
      ? ['AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH', 'XCOM_OBJECTSTORAGE_PATH']
      : ['XCOM_OBJECTSTORAGE_PATH', 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH']
    const needs = `needs ${first} (or ${second}), e.g. ${first}=file:///var/lib/xcom or ${first}=s3://my_conn@my-bucket/xcom.`
    throw new XComError(
      'E_CONFIG',
      config.backend
        ? `${config.backend.variable} chose the object storage backend, which ${needs}`
        : `The object storage backend ${needs}`,
    )
  }
  // Settings are checked before the store is built: a typo fails without reaching any service.
  const threshold = parseThreshold(config.objectStorageThreshold)
  const compression = await codecFromSetting(config.objectStorageCompression)
  const checksum = parseChecksum(config.objectStorageChecksum)
  const encryption = await encryptionFromSettings(env, config)
  const encryptInline = parseEncryptInline(config.encryptInline, encryption)
  const connections = context.connections ?? new EnvConnectionResolver(env)
  // A connection the path names is looked up before its adapter is imported: the hint says what to export.
  const { connId } = parseObjectStorageUrl(path.value, path.variable)
  if (connId !== undefined && !(await connections.get(connId))) throw missingConnection(connId, path.variable)
  const store = await objectStoreFromUrl(path.value, { connections, source: path.variable })
  return {
    store,
    threshold,
    compression,
    checksum,
    ...(encryption ? { encryption, encryptInline } : {}),
    ...(context.serializer ? { serializer: context.serializer } : {}),
  }
}

/** Parses XCOM_OBJECTSTORAGE_THRESHOLD (unset: -1). @throws XComError `E_CONFIG` naming the variable. */
function parseThreshold(setting: EnvSetting | undefined): number {
  if (!setting) return -1
  const threshold = /^-?\d+$/.test(setting.value) ? Number(setting.value) : Number.NaN
  if (!Number.isSafeInteger(threshold) || threshold < -1) {
    throw new XComError(
      'E_CONFIG',
      `${setting.variable}=${setting.value} is not a valid threshold: use -1 (everything in the database), 0 (everything in object storage) or a size in bytes such as 65536.`,
    )
  }
  return threshold
}

/** Parses XCOM_OBJECTSTORAGE_CHECKSUM (unset: crc32). @throws XComError `E_CONFIG` naming the variable. */
function parseChecksum(setting: EnvSetting | undefined): ChecksumAlgorithm {
  if (!setting) return 'crc32'
  const name = setting.value.toLowerCase()
  if (isChecksumAlgorithm(name)) return name
  throw new XComError(
    'E_CONFIG',
    `${setting.variable}=${setting.value} is not a checksum algorithm: use ${Object.keys(CHECKSUM_ALGORITHMS).join(' or ')}.`,
  )
}

/**
 * The codec XCOM_OBJECTSTORAGE_COMPRESSION names, if any (`none`, `null`, `false`, `off` mean no compression).
 * @throws XComError `E_CONFIG` naming the variable and the valid names, or the package to install.
 */
async function codecFromSetting(setting: EnvSetting | undefined): Promise<Codec | undefined> {
  if (!setting || /^(none|null|false|off)$/i.test(setting.value)) return undefined
  return codecNamed(setting.value, setting.variable, 'E_CONFIG')
}

/**
 * The encryption XCOM_ENCRYPTION_KEYS (or XCOM_ENCRYPTION_KEY_PROVIDER) asks for, through `@xcom/encryption` (imported
 * only then); undefined when neither is set.
 * @throws XComError `E_CONFIG` naming the variable (never a key) or the package to install.
 */
async function encryptionFromSettings(env: Env, config: XComConfig): Promise<Encryption | undefined> {
  const setting = config.encryptionKeys ?? config.encryptionKeyProvider
  if (!setting) return undefined
  const { encryptionFromEnv } = await importModule('@xcom/encryption', setting.variable)
  if (typeof encryptionFromEnv !== 'function')
    throw new XComError(
      'E_CONFIG',
      `${setting.variable} needs a newer @xcom/encryption (it has no encryptionFromEnv).`,
    )
  return (encryptionFromEnv as (env: Env) => Encryption | undefined)(env)
}

/** Parses XCOM_ENCRYPTION_INLINE (unset: false). @throws XComError `E_CONFIG` naming the variable. */
function parseEncryptInline(setting: EnvSetting | undefined, encryption: Encryption | undefined): boolean {
  if (!setting) return false
  if (!/^(true|false|1|0|yes|no)$/i.test(setting.value))
    throw new XComError('E_CONFIG', `${setting.variable}=${setting.value} must be true or false.`)
  const on = /^(true|1|yes)$/i.test(setting.value)
  if (on && !encryption)
    throw new XComError(
      'E_CONFIG',
      `${setting.variable}=true needs XCOM_ENCRYPTION_KEYS (the keys to encrypt with).`,
    )
  return on
}
