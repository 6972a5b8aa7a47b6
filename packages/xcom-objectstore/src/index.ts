export {
  DEFAULT_MAX_VALUE_SIZE,
  type ObjectReference,
  ObjectStoreXComBackend,
  type ObjectStoreXComBackendOptions,
} from './backend.js'
export type { ObservableBody } from './bytes.js'
export {
  algorithmOf,
  CHECKSUM_ALGORITHMS,
  type Checksum,
  type ChecksumAlgorithm,
  checksumOf,
  createChecksum,
  isChecksumAlgorithm,
} from './checksum.js'
export { CLAIM_KEY, DATABASE_META } from './claim.js'
export { FileObjectStore, type FileObjectStoreOptions } from './file-store.js'
export { encodeSegment, identityPath, isObjectKey, objectKey, recordIdOf } from './keys.js'
export { MemoryObjectStore, type MemoryObjectStoreOptions } from './memory-store.js'
export { ReplicatedObjectStore } from './replicated-store.js'
export {
  ADAPTER_PACKAGES,
  type AdapterScheme,
  OBJECT_STORAGE_SCHEMES,
  type ObjectStorageScheme,
  type ObjectStoreFactory,
  type ObjectStoreFromUrlOptions,
  objectStoreFromUrl,
  type ParsedObjectStorageUrl,
  parseObjectStorageUrl,
} from './url.js'
