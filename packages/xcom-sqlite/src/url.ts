import { isAbsolute, resolve } from 'node:path'
import { type MetadataStoreFactory, XComError } from '@xcom/core'
import { maskUrl } from '@xcom/core/adapter'
import { SqliteMetadataStore } from './sqlite-metadata-store.ts'

const EXAMPLES =
  'sqlite://.xcom/xcom.db (relative to the working directory), sqlite:///var/lib/xcom/xcom.db (absolute) or sqlite://:memory:'

/**
 * The database path a `sqlite://` URL names: `sqlite://.xcom/xcom.db` is relative to `cwd`, `sqlite:///abs/xcom.db`
 * is absolute, `sqlite://:memory:` is in memory. Percent-escapes are decoded.
 * @throws XComError `E_CONFIG` naming XCOM_METADATA_URL and a valid example.
 */
export function sqlitePathFromUrl(url: string, cwd: string = process.cwd()): string {
  const fail = (why: string): never => {
    throw new XComError('E_CONFIG', `XCOM_METADATA_URL=${maskUrl(String(url))} ${why}: use ${EXAMPLES}.`)
  }
  if (typeof url !== 'string' || !/^sqlite:\/\//i.test(url)) return fail('is not a sqlite:// URL')
  let path = ''
  try {
    path = decodeURIComponent(url.slice('sqlite://'.length))
  } catch {
    fail('has an invalid %-escape in its path')
  }
  if (path.length === 0) return fail('names no database file')
  if (path.includes('?') || path.includes('#') || path.includes('\0'))
    return fail('has a query, fragment or NUL in its path')
  if (path === ':memory:') return path
  return isAbsolute(path) ? path : resolve(cwd, path)
}

/**
 * This package's {@link MetadataStoreFactory}: opens the {@link SqliteMetadataStore} a `sqlite://` URL names,
 * creating parent directories. This is what `XCom.fromEnv` calls for `XCOM_METADATA_URL=sqlite://...`.
 * @throws XComError `E_CONFIG` for a malformed URL or a database written by a newer @xcom/sqlite;
 *   `E_PERMISSION_DENIED` when the file cannot be written.
 */
export const metadataStoreFactory = (async (url: string): Promise<SqliteMetadataStore> =>
  new SqliteMetadataStore({ path: sqlitePathFromUrl(url) })) satisfies MetadataStoreFactory
