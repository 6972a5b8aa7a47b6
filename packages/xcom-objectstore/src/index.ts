export {
  DEFAULT_MAX_VALUE_SIZE,
  type ObjectReference,
  ObjectStoreXComBackend,
  type ObjectStoreXComBackendOptions,
} from './backend.ts'
export type { ObservableBody } from './bytes.ts'
export {
  algorithmOf,
  CHECKSUM_ALGORITHMS,
  type Checksum,
  type ChecksumAlgorithm,
  checksumOf,
  createChecksum,
  isChecksumAlgorithm,
} from './checksum.ts'
export { CLAIM_KEY, DATABASE_META } from './claim.ts'
export { FileObjectStore, type FileObjectStoreOptions } from './file-store.ts'
export { encodeSegment, identityPath, isObjectKey, objectKey, recordIdOf } from './keys.ts'
export { MemoryObjectStore, type MemoryObjectStoreOptions } from './memory-store.ts'
export { ReplicatedObjectStore } from './replicated-store.ts'
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
} from './url.ts'
