export * from './codec.js'
export * from './concurrency.js'
export * from './metadata-store.js'
export * from './object-store.js'
