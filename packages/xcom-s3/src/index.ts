export type { S3Credentials } from './client.ts'
export { objectStoreFactory } from './factory.ts'
export type { S3ObjectStoreOptions } from './options.ts'
export { S3ObjectStore } from './store.ts'
