export {
  GCS_CONNECTION_TYPES,
  type GcsConnectionOptions,
  type GcsCredentials,
  gcsOptionsFromConnection,
} from './connection.ts'
export { crc32cBase64, crc32cUpdate, fastCrc32cValidator } from './crc32c.ts'
export { type GcsErrorContext, GcsSdkError, redact, toXComError } from './errors.ts'
export { objectStoreFactory } from './factory.ts'
export { GcsObjectStore, type GcsObjectStoreOptions } from './store.ts'
