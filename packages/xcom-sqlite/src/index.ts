export { SCHEMA_VERSION } from './schema.ts'
export {
  type SqliteCommonOptions,
  type SqliteDatabaseOptions,
  SqliteMetadataStore,
  type SqliteMetadataStoreOptions,
  type SqlitePathOptions,
} from './sqlite-metadata-store.ts'
export { metadataStoreFactory } from './url.ts'
