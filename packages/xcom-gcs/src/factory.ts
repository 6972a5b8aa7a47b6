import { type Connection, type ObjectStorageUrl, XComError } from '@xcom/core'
import { maskUrl } from '@xcom/core/adapter'
import { gcsOptionsFromConnection } from './connection.ts'
import { GcsObjectStore, type GcsObjectStoreOptions } from './store.ts'

type UrlOption = (value: string, name: string, url: string) => Partial<GcsObjectStoreOptions>

/** URL query parameters accepted by {@link objectStoreFactory}, and how each becomes a store option. */
const URL_OPTIONS: Record<string, UrlOption> = {
  chunk_size: (value, name, url) => ({ chunkSize: wholeNumber(value, name, url) }),
  resumable_threshold: (value, name, url) => ({ resumableThreshold: wholeNumber(value, name, url) }),
  validation: (value, name, url) => ({ validation: validationOf(value, name, url) }),
  delete_concurrency: (value, name, url) => ({ deleteConcurrency: wholeNumber(value, name, url) }),
  page_size: (value, name, url) => ({ pageSize: wholeNumber(value, name, url) }),
}

/**
 * Builds a {@link GcsObjectStore} for a `gs://[conn_id@]bucket/prefix` URL: the `ObjectStoreFactory` (see
 * `@xcom/core`) that `@xcom/objectstore` imports for `gs://` and `gcs://`. The connection (resolved from the URL's
 * connection id) is mapped by `gcsOptionsFromConnection`; without one, the SDK's Application Default Credentials apply.
 * The URL's scheme as written (`gs` or `gcs`) is kept in the store's URL. Query parameters `chunk_size`,
 * `resumable_threshold`, `validation` (`crc32c`, `md5` or `false`), `delete_concurrency` and `page_size` set store
 * options.
 * @param extra - more store options (chunk size, thresholds...), applied over what the URL and connection give.
 * @throws XComError `E_CONFIG` for another scheme, a URL without bucket, an unknown query parameter or a value it
 *   does not accept (naming the parameter, the masked URL and the accepted names), or an unusable connection.
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
  const fromUrl: Partial<GcsObjectStoreOptions> = {}
  for (const [name, value] of Object.entries(url.options)) {
    const option = Object.hasOwn(URL_OPTIONS, name) ? URL_OPTIONS[name] : undefined
    if (!option) {
      throw new XComError(
        'E_CONFIG',
        `The object storage URL ${maskUrl(url.url)} has the unknown parameter "${name}": use ${Object.keys(URL_OPTIONS).join(', ')}.`,
      )
    }
    Object.assign(fromUrl, option(value, name, url.url))
  }
  return new GcsObjectStore({
    ...(connection ? gcsOptionsFromConnection(connection) : {}),
    ...fromUrl,
    bucket: url.bucket,
    prefix: url.prefix,
    scheme: protocol === 'gcs' ? 'gcs' : 'gs',
    ...(url.connId ? { connectionId: url.connId } : {}),
    ...extra,
  })
}

function wholeNumber(value: string, name: string, url: string): number {
  if (/^\d+$/.test(value.trim())) return Number(value)
  throw new XComError(
    'E_CONFIG',
    `The object storage URL ${maskUrl(url)} has ${name}="${value}": use a whole number.`,
  )
}

function validationOf(value: string, name: string, url: string): 'crc32c' | 'md5' | false {
  const lower = value.trim().toLowerCase()
  if (lower === 'crc32c' || lower === 'md5') return lower
  if (lower === 'false' || lower === 'none') return false
  throw new XComError(
    'E_CONFIG',
    `The object storage URL ${maskUrl(url)} has ${name}="${value}": use crc32c, md5 or false.`,
  )
}
