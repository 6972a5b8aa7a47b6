export { BaseXComBackend, type BaseXComBackendOptions, malformedValue } from './backend.js'
export { byteChunks, checkRange, readChunks } from './bytes.js'
export {
  DEFAULT_METADATA_URL,
  ENV_VARIABLES,
  type Env,
  type EnvSetting,
  type ImportModuleOptions,
  importExport,
  importModule,
  OBJECT_STORAGE_BACKEND,
  parseModuleSpec,
  printableConfig,
  readSetting,
  readXComConfig,
  type XComConfig,
} from './config.js'
export {
  CONNECTION_ENV_PREFIXES,
  EnvConnectionResolver,
  normalizeConnType,
  parseConnection,
  pyParseQuery,
  pySplitUrl,
  pyUnquote,
  type SplitUrl,
} from './connections.js'
export type * from './contracts.js'
export { XCOM_ERROR_CODES, XComError, type XComErrorCode, type XComErrorOptions } from './errors.js'
export type { BackendEnvContext } from './from-env.js'
export {
  compareKeys,
  formatIdentity,
  IDENTITY_LIMITS,
  resolveIdentity,
  validateIdentifier,
  validateMapIndex,
  XCOM_RETURN_KEY,
} from './identity.js'
export { isSecretName, maskConnectionId, maskConnectionValue, maskText, maskUrl } from './mask.js'
export { MemoryMetadataStore } from './memory-metadata-store.js'
export { checkObjectKey, prefixedKey, prefixedListPrefix } from './object-keys.js'
export { decodeCursor, encodeCursor, matchesQuery, queryValues, validateQuery } from './query.js'
export { type RecordRow, recordFromRow } from './rows.js'
export * from './serializer/index.js'
export {
  type ClearQuery,
  type GcReport,
  type PulledXCom,
  type PullManyQuery,
  type PurgeReport,
  XCom,
  type XComOptions,
} from './xcom.js'
