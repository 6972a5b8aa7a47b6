export { SCHEMA_VERSION } from './schema.js'
export {
  type SqliteCommonOptions,
  type SqliteDatabaseOptions,
  SqliteMetadataStore,
  type SqliteMetadataStoreOptions,
  type SqlitePathOptions,
} from './sqlite-metadata-store.js'
export { metadataStoreFromUrl, sqlitePathFromUrl } from './url.js'
