import { type Connection, type ObjectStorageUrl, XComError } from '@xcom/core'
import { s3OptionsFromConnection } from './connection.ts'
import { booleanParam, endpointParam, integerParam, type S3ObjectStoreOptions, textParam } from './options.ts'
import { S3ObjectStore } from './store.ts'

/** URL query parameters accepted by {@link objectStoreFactory}, and how each becomes a store option. */
const URL_OPTIONS: Record<string, (value: string) => Partial<S3ObjectStoreOptions>> = {
  region: (value) => ({ region: textParam('region', value, 'eu-west-1') }),
  endpoint: (value) => ({ endpoint: endpointParam('endpoint', value) }),
  force_path_style: (value) => ({ forcePathStyle: booleanParam('force_path_style', value) }),
  part_size: (value) => ({ partSize: integerParam('partSize', value) }),
  queue_size: (value) => ({ queueSize: integerParam('queueSize', value) }),
  read_concurrency: (value) => ({ readConcurrency: integerParam('readConcurrency', value) }),
  max_sockets: (value) => ({ maxSockets: integerParam('maxSockets', value) }),
  conditional_create: (value) => ({ conditionalCreate: booleanParam('conditional_create', value) }),
}

/**
 * Builds the {@link S3ObjectStore} of an `s3://[conn_id@]bucket/prefix` URL (also `s3a://`, `s3n://`): the
 * `ObjectStoreFactory` (see `@xcom/core`) that `@xcom/objectstore` calls for these schemes, with the URL's connection
 * already resolved with the Amazon provider's rules (see the README); without a connection the SDK's default credential chain is
 * used. Query parameters `region`, `endpoint`, `force_path_style`, `part_size`, `queue_size`, `read_concurrency`,
 * `max_sockets` and `conditional_create` override the connection.
 * @throws XComError `E_CONFIG` for another scheme; credentials written into the URL (`s3://KEY:SECRET@bucket`, never
 * repeated in the message); an unknown query parameter; a parameter value that is not valid (naming the parameter,
 * the value and the valid values; the caller names the setting the URL came from); a connection that cannot be used.
 */
export function objectStoreFactory(url: ObjectStorageUrl, connection: Connection | undefined): S3ObjectStore {
  if (url.scheme !== 's3') {
    throw new XComError(
      'E_CONFIG',
      `@xcom/s3 cannot open ${url.protocol}:// URLs (${url.scheme}): it serves s3://, s3a:// and s3n://.`,
    )
  }
  // A connection id never holds ':' (Airflow ids are letters, digits, '_', '-', '.'): this is user:password@.
  if (url.connId?.includes(':')) {
    throw new XComError(
      'E_CONFIG',
      `The s3:// URL of bucket "${url.bucket}" carries credentials before "@": put them in a connection (XCOM_CONN_<ID> or AIRFLOW_CONN_<ID>) and write its id there instead, s3://<conn_id>@${url.bucket}/...`,
    )
  }
  const fromUrl: Partial<S3ObjectStoreOptions> = {}
  for (const [name, value] of Object.entries(url.options)) {
    const option = Object.hasOwn(URL_OPTIONS, name) ? URL_OPTIONS[name] : undefined
    if (!option) {
      throw new XComError(
        'E_CONFIG',
        `The s3:// URL has the unknown parameter "${name}": use ${Object.keys(URL_OPTIONS).join(', ')}.`,
      )
    }
    Object.assign(fromUrl, option(value))
  }
  return new S3ObjectStore({
    ...(connection ? s3OptionsFromConnection(connection) : {}),
    ...fromUrl,
    bucket: url.bucket,
    prefix: url.prefix,
    connectionId: url.connId,
  })
}
