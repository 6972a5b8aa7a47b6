import { type MetadataStoreFactory, XComError } from '@xcom/core'
import { maskUrl } from '@xcom/core/adapter'
import { PostgresMetadataStore, type PostgresMetadataStoreOptions } from './postgres-metadata-store.ts'

const EXAMPLE = 'postgres://user:password@127.0.0.1:5432/airflow?schema=xcom'

/**
 * The store options a `postgres://` or `postgresql://` URL names. The optional `schema` query parameter selects the
 * schema (default `public`) and is removed from the URL pg receives; every other parameter (sslmode, ...) is pg's.
 * @throws XComError `E_CONFIG` naming XCOM_METADATA_URL and a valid example; the password is never shown.
 */
export function postgresOptionsFromUrl(
  url: string,
): PostgresMetadataStoreOptions & { connectionString: string } {
  const fail = (why: string): never => {
    throw new XComError('E_CONFIG', `XCOM_METADATA_URL=${maskUrl(String(url))} ${why}: use e.g. ${EXAMPLE}.`)
  }
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//i.test(url)) return fail('is not a postgres:// URL')
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    return fail('is not a valid URL')
  }
  const schema = parsed.searchParams.get('schema')
  if (schema === null) return { connectionString: url }
  if (schema === '') return fail('has an empty schema parameter')
  parsed.searchParams.delete('schema')
  return { connectionString: parsed.toString(), schema }
}

/**
 * This package's {@link MetadataStoreFactory}: opens the {@link PostgresMetadataStore} a `postgres://` URL names,
 * then connects and creates or migrates its schema so configuration errors surface here. This is what `XCom.fromEnv`
 * calls for `XCOM_METADATA_URL=postgres://...`.
 * @throws XComError `E_CONFIG` for a malformed URL, an invalid schema name or a schema written by a newer
 *   @xcom/postgres; `E_PERMISSION_DENIED` for rejected credentials; `E_BACKEND` when the server cannot be reached.
 */
export const metadataStoreFactory = (async (url: string): Promise<PostgresMetadataStore> => {
  const store = new PostgresMetadataStore(postgresOptionsFromUrl(url))
  try {
    await store.ready()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}) satisfies MetadataStoreFactory
