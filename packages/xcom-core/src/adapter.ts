/**
 * `@xcom/core/adapter`: helpers for authors of stores, backends and codecs. Applications need only `@xcom/core`; an
 * adapter implements the contracts exported there with these.
 */

export { storageAttributes } from './attributes.ts'
export { malformedValue } from './backend.ts'
export {
  allocateBytes,
  byteChunks,
  checkRange,
  concatBytes,
  plainBytes,
  readChunks,
  resolveRange,
  toReadableStream,
} from './bytes.ts'
export { mapLimit, type Settled, settle } from './concurrency.ts'
export {
  type ImportModuleOptions,
  importExport,
  importModule,
  parseModuleSpec,
  readSetting,
} from './config.ts'
export {
  CONNECTION_ENV_PREFIXES,
  connectionVariableNames,
  EnvConnectionResolver,
  missingConnection,
  normalizeConnType,
  parseConnection,
  pyParseQuery,
  pySplitUrl,
  pyUnquote,
  type SplitUrl,
} from './connections.ts'
export type { BackendEnvContext } from './from-env.ts'
export { compareKeys, resolveIdentity, validateIdentifier, validateMapIndex } from './identity.ts'
export { type LogFields, XComLogger } from './logger.ts'
export { isSecretName, maskConnectionId, maskConnectionValue, maskText, maskUrl } from './mask.ts'
export { checkObjectKey, prefixedKey, prefixedListPrefix } from './object-keys.ts'
export {
  decodeCursor,
  encodeCursor,
  fixedKeyColumns,
  matchesQuery,
  pageLimit,
  queryValues,
  validateQuery,
} from './query.ts'
export { keyValues, type RecordRow, recordFromRow, recordValues } from './rows.ts'
export { codeOfHttpStatus, type StoreFailure, storeError } from './store-errors.ts'
export {
  type Attributes,
  activeTelemetry,
  type CounterName,
  errorType,
  logRetry,
  type RetriedRequest,
  type SpanHandle,
  Telemetry,
} from './telemetry.ts'
