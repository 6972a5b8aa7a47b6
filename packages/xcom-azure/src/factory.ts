import { type Connection, type ObjectStorageUrl, XComError } from '@xcom/core'
import { maskUrl } from '@xcom/core/adapter'
import { azureOptionsFromConnection, azureOptionsFromEnv } from './connection.ts'
import type { AzureBlobObjectStoreOptions } from './options.ts'
import { AzureBlobObjectStore } from './store.ts'

/** URL query parameters accepted by {@link objectStoreFactory}, and how each becomes a store option. */
const URL_OPTIONS: Record<string, (value: string) => Partial<AzureBlobObjectStoreOptions>> = {
  block_size: (value) => ({ blockSize: Number(value) }),
  concurrency: (value) => ({ concurrency: Number(value) }),
  batch_delete: (value) => ({ batchDelete: !/^(false|0|no)$/i.test(value) }),
}

/**
 * Builds the {@link AzureBlobObjectStore} of an `abfs://[conn_id@]container/prefix` URL (also `abfss://`, `adl://`,
 * `az://`): the `ObjectStoreFactory` (see `@xcom/core`) that `@xcom/objectstore` calls for these schemes, with the
 * URL's connection already resolved and read with the rules of Airflow's Azure provider (`wasb`) or adlfs (`abfs`,
 * `adls`...; see the README). Without a connection, the standard variables are read: `AZURE_STORAGE_CONNECTION_STRING`,
 * else `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY` or `AZURE_STORAGE_SAS_TOKEN`. Query parameters
 * `block_size`, `concurrency` and `batch_delete` set store options.
 *
 * The authority is `[conn_id@]container`, as for every xcom URL. fsspec's `abfs://container@account.dfs.core.windows.net/`
 * form is refused with an explanation: the account comes from the connection.
 * @throws XComError `E_CONFIG` for another scheme, an unknown query parameter, the fsspec authority form, or a
 *   connection that cannot be used.
 */
export function objectStoreFactory(
  url: ObjectStorageUrl,
  connection: Connection | undefined,
): AzureBlobObjectStore {
  if (url.scheme !== 'abfs') {
    throw new XComError(
      'E_CONFIG',
      `@xcom/azure cannot open ${url.protocol}:// URLs (${url.scheme}): it serves abfs://, abfss://, adl:// and az://.`,
    )
  }
  if (url.bucket.includes('.')) {
    throw new XComError(
      'E_CONFIG',
      `The object storage URL ${maskUrl(url.url)} names "${url.bucket}" as its container: xcom URLs are ${url.protocol}://[conn_id@]container/prefix ` +
        "(the account comes from the connection), not fsspec's container@account.dfs.core.windows.net form.",
    )
  }
  const fromUrl: Partial<AzureBlobObjectStoreOptions> = {}
  for (const [name, value] of Object.entries(url.options)) {
    const option = URL_OPTIONS[name]
    if (!option) {
      throw new XComError(
        'E_CONFIG',
        `The object storage URL ${maskUrl(url.url)} has the unknown parameter "${name}": use ${Object.keys(URL_OPTIONS).join(', ')}.`,
      )
    }
    Object.assign(fromUrl, option(value))
  }
  return new AzureBlobObjectStore({
    ...(connection
      ? azureOptionsFromConnection(connection)
      : azureOptionsFromEnv(process.env, maskUrl(url.url))),
    ...fromUrl,
    container: url.bucket,
    prefix: url.prefix,
    scheme: url.protocol,
    connectionId: url.connId,
  })
}
