export { PostgresMetadataStore, type PostgresMetadataStoreOptions } from './postgres-metadata-store.js'
export { SCHEMA_VERSION } from './schema.js'
export { metadataStoreFromUrl, postgresOptionsFromUrl } from './url.js'
