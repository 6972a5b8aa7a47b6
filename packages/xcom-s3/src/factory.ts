import { type Connection, type ObjectStorageUrl, XComError } from '@xcom/core'
import { s3OptionsFromConnection } from './connection.js'
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js'

/** URL query parameters accepted by {@link objectStoreFactory}, and how each becomes a store option. */
const URL_OPTIONS: Record<string, (value: string) => Partial<S3ObjectStoreOptions>> = {
  region: (value) => ({ region: value }),
  endpoint: (value) => ({ endpoint: value }),
  force_path_style: (value) => ({ forcePathStyle: /^(true|1|yes)$/i.test(value) }),
  part_size: (value) => ({ partSize: Number(value) }),
  queue_size: (value) => ({ queueSize: Number(value) }),
  conditional_create: (value) => ({ conditionalCreate: !/^(false|0|no)$/i.test(value) }),
}

/**
 * Builds the {@link S3ObjectStore} of an `s3://[conn_id@]bucket/prefix` URL (also `s3a://`, `s3n://`): the
 * `ObjectStoreFactory` (see `@xcom/core`) that `@xcom/objectstore` calls for these schemes, with the URL's connection
 * already resolved (see {@link s3OptionsFromConnection}); without a connection the SDK's default credential chain is
 * used. Query parameters `region`, `endpoint`, `force_path_style`, `part_size`, `queue_size` and `conditional_create`
 * override the connection.
 * @throws XComError `E_CONFIG` for another scheme, an unknown query parameter, or a connection that cannot be used.
 */
export function objectStoreFactory(url: ObjectStorageUrl, connection: Connection | undefined): S3ObjectStore {
  if (url.scheme !== 's3') {
    throw new XComError(
      'E_CONFIG',
      `@xcom/s3 cannot open ${url.protocol}:// URLs (${url.scheme}): it serves s3://, s3a:// and s3n://.`,
    )
  }
  const fromUrl: Partial<S3ObjectStoreOptions> = {}
  for (const [name, value] of Object.entries(url.options)) {
    const option = URL_OPTIONS[name]
    if (!option) {
      throw new XComError(
        'E_CONFIG',
        `The object storage URL ${url.url} has the unknown parameter "${name}": use ${Object.keys(URL_OPTIONS).join(', ')}.`,
      )
    }
    Object.assign(fromUrl, option(value))
  }
  return new S3ObjectStore({
    ...(connection ? s3OptionsFromConnection(connection) : {}),
    ...fromUrl,
    bucket: url.bucket,
    prefix: url.prefix,
    connId: url.connId,
  })
}
