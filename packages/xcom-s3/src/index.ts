export { type S3ConnectionOptions, s3OptionsFromConnection } from './connection.js'
export { type S3ErrorContext, toXComError } from './errors.js'
export { objectStoreFactory } from './factory.js'
export { type S3Credentials, S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js'
