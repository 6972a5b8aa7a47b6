export { BaseXComBackend, type BaseXComBackendOptions, malformedValue } from './backend.ts'
export { byteChunks, checkRange, readChunks } from './bytes.ts'
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
} from './config.ts'
export {
  CONNECTION_ENV_PREFIXES,
  EnvConnectionResolver,
  normalizeConnType,
  parseConnection,
  pyParseQuery,
  pySplitUrl,
  pyUnquote,
  type SplitUrl,
} from './connections.ts'
export type * from './contracts.ts'
export { XCOM_ERROR_CODES, XComError, type XComErrorCode, type XComErrorOptions } from './errors.ts'
export type { BackendEnvContext } from './from-env.ts'
export {
  compareKeys,
  formatIdentity,
  IDENTITY_LIMITS,
  resolveIdentity,
  validateIdentifier,
  validateMapIndex,
  XCOM_RETURN_KEY,
} from './identity.ts'
export { isSecretName, maskConnectionId, maskConnectionValue, maskText, maskUrl } from './mask.ts'
export { MemoryMetadataStore } from './memory-metadata-store.ts'
export { checkObjectKey, prefixedKey, prefixedListPrefix } from './object-keys.ts'
export { decodeCursor, encodeCursor, matchesQuery, queryValues, validateQuery } from './query.ts'
export { type RecordRow, recordFromRow } from './rows.ts'
export * from './serializer/index.ts'
export {
  type ClearQuery,
  type GcReport,
  type PulledXCom,
  type PullManyQuery,
  type PurgeReport,
  XCom,
  type XComOptions,
} from './xcom.ts'
