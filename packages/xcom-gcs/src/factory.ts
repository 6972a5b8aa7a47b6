import { type Connection, XComError } from '@xcom/core'
import { gcsOptionsFromConnection } from './connection.js'
import { GcsObjectStore, type GcsObjectStoreOptions } from './store.js'

/**
 * The parts of an object storage URL (`gs://[conn_id@]bucket/prefix`) the factory reads: the fields of
 * `@xcom/objectstore`'s `ParsedObjectStorageUrl` that matter here.
 */
export interface GcsStorageUrl {
  /** The storage named, aliases resolved: `gs` for both `gs://` and `gcs://`. */
  scheme: string
  /** The scheme as written (`gs` or `gcs`), kept in the store's URL. @default scheme */
  protocol?: string
  /** The bucket (the URL's authority after the connection id). */
  bucket: string
  /** The key prefix inside the bucket, without leading and trailing `/`. @default "" */
  prefix?: string
  /** The connection id (the raw text before the last `@`), if any. */
  connId?: string | undefined
}

/**
 * Builds a {@link GcsObjectStore} for an object storage URL: the factory `@xcom/objectstore` imports for `gs://` and
 * `gcs://`. The connection (resolved from the URL's connection id) is mapped by `gcsOptionsFromConnection`; without
 * one, the SDK's Application Default Credentials apply.
 * @param extra - more store options (chunk size, thresholds...), applied over what the URL and connection give.
 * @throws XComError `E_CONFIG` for another scheme, a URL without bucket, or an unusable connection.
 */
export function objectStoreFactory(
  url: GcsStorageUrl,
  connection?: Connection,
  extra: Partial<GcsObjectStoreOptions> = {},
): GcsObjectStore {
  const protocol = url.protocol ?? url.scheme
  if (url.scheme !== 'gs' && url.scheme !== 'gcs') {
    throw new XComError('E_CONFIG', `@xcom/gcs serves gs:// and gcs:// URLs, not ${protocol}://.`)
  }
  if (!url.bucket) {
    throw new XComError(
      'E_CONFIG',
      `The object storage URL ${protocol}://... names no bucket: use ${protocol}://[conn_id@]bucket/prefix.`,
    )
  }
  return new GcsObjectStore({
    ...(connection ? gcsOptionsFromConnection(connection) : {}),
    bucket: url.bucket,
    prefix: url.prefix ?? '',
    scheme: protocol === 'gcs' ? 'gcs' : 'gs',
    ...(url.connId ? { connectionId: url.connId } : {}),
    ...extra,
  })
}
