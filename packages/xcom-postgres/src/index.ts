export { PostgresMetadataStore, type PostgresMetadataStoreOptions } from './postgres-metadata-store.ts'
export { SCHEMA_VERSION } from './schema.ts'
export { metadataStoreFactory } from './url.ts'
