/**
 * `@xcom/core`: what applications use. The model and contracts (types), the `XCom` facade, the in-memory metadata
 * store, the inline backend, the serializer and the error class. Helpers for adapter authors are in
 * `@xcom/core/adapter`.
 */
export { BaseXComBackend, type BaseXComBackendOptions } from './backend.ts'
export {
  type CheckReport,
  checkBackend,
  checkMetadata,
  failedCheck,
  type MetadataCheck,
} from './check.ts'
export {
  DEFAULT_METADATA_URL,
  ENV_VARIABLES,
  type Env,
  type EnvSetting,
  OBJECT_STORAGE_BACKEND,
  printableConfig,
  readXComConfig,
  type XComConfig,
} from './config.ts'
export type * from './contracts.ts'
export { XCOM_ERROR_CODES, XComError, type XComErrorCode, type XComErrorOptions } from './errors.ts'
export { AIRFLOW_BACKEND_CLASSES, type XComFromEnvOptions } from './from-env.ts'
export { formatIdentity, IDENTITY_LIMITS, XCOM_RETURN_KEY } from './identity.ts'
export type { LogFields, LogFormat, Logger, LogLevel, LogStream } from './logger.ts'
export { MemoryMetadataStore } from './memory-metadata-store.ts'
export * from './serializer/index.ts'
export type { MeterLike, SpanLike, TelemetryOptions, TracerLike } from './telemetry.ts'
export { XCom } from './xcom.ts'
export type {
  GcOptions,
  GcProgress,
  GcReport,
  PulledXCom,
  PurgeReport,
  RotateKeysOptions,
  RotationProgress,
  RotationReport,
  XComOptions,
} from './xcom-types.ts'
