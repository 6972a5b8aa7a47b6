export {
  GCS_CONNECTION_TYPES,
  type GcsConnectionOptions,
  type GcsCredentials,
  gcsOptionsFromConnection,
} from './connection.js'
export { crc32cBase64, crc32cUpdate, fastCrc32cValidator } from './crc32c.js'
export { type GcsErrorContext, GcsSdkError, redact, toXComError } from './errors.js'
export { objectStoreFactory } from './factory.js'
export { GcsObjectStore, type GcsObjectStoreOptions } from './store.js'
