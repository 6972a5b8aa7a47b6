export { objectStoreFactory } from './factory.ts'
export type { AzureBlobObjectStoreOptions } from './options.ts'
export { AzureBlobObjectStore } from './store.ts'
