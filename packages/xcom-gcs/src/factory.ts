import { type Connection, type ObjectStorageUrl, XComError } from '@xcom/core'
import { gcsOptionsFromConnection } from './connection.ts'
import { GcsObjectStore, type GcsObjectStoreOptions } from './store.ts'

/**
 * Builds a {@link GcsObjectStore} for a `gs://[conn_id@]bucket/prefix` URL: the `ObjectStoreFactory` (see
 * `@xcom/core`) that `@xcom/objectstore` imports for `gs://` and `gcs://`. The connection (resolved from the URL's
 * connection id) is mapped by `gcsOptionsFromConnection`; without one, the SDK's Application Default Credentials apply.
 * The URL's scheme as written (`gs` or `gcs`) is kept in the store's URL.
 * @param extra - more store options (chunk size, thresholds...), applied over what the URL and connection give.
 * @throws XComError `E_CONFIG` for another scheme, a URL without bucket, or an unusable connection.
 */
export function objectStoreFactory(
  url: ObjectStorageUrl,
  connection?: Connection,
  extra: Partial<GcsObjectStoreOptions> = {},
): GcsObjectStore {
  const { protocol } = url
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
    prefix: url.prefix,
    scheme: protocol === 'gcs' ? 'gcs' : 'gs',
    ...(url.connId ? { connectionId: url.connId } : {}),
    ...extra,
  })
}
