/**
 * `@xcom/objectstore`: the object storage XCom backend (`ObjectStoreXComBackend`), the `file://`, `memory://` and
 * replicated stores, and `objectStoreFromUrl`, which builds the store of any object storage URL.
 */
export { ObjectStoreXComBackend } from './backend.ts'
export type { ChecksumAlgorithm } from './checksum.ts'
export { CLAIM_KEY, DATABASE_META } from './claim.ts'
export { FileObjectStore, type FileObjectStoreOptions } from './file-store.ts'
export { isObjectKey, recordIdOf } from './keys.ts'
export { MemoryObjectStore, type MemoryObjectStoreOptions } from './memory-store.ts'
export { DEFAULT_MAX_VALUE_SIZE, type ObjectStoreXComBackendOptions } from './options.ts'
export type { ObjectRead } from './read.ts'
export type { ObjectReference } from './reference.ts'
export { ReplicatedObjectStore } from './replicated-store.ts'
export {
  type AdapterScheme,
  type ObjectStorageScheme,
  type ObjectStoreFromUrlOptions,
  objectStoreFromUrl,
  type ParsedObjectStorageUrl,
  parseObjectStorageUrl,
} from './url.ts'
