export { objectStoreFactory } from './factory.ts'
export { GcsObjectStore, type GcsObjectStoreOptions } from './store.ts'
