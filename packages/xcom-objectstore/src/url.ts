import {
  type Connection,
  type ConnectionResolver,
  type ObjectStorageUrl,
  type ObjectStore,
  type ObjectStoreFactory,
  XComError,
} from '@xcom/core'
import {
  EnvConnectionResolver,
  importModule,
  maskText,
  maskUrl,
  missingConnection,
  pyParseQuery,
  pySplitUrl,
  pyUnquote,
} from '@xcom/core/adapter'
import { FileObjectStore } from './file-store.ts'
import { MemoryObjectStore } from './memory-store.ts'

/** The storage a URL names, whatever alias its scheme used. */
export type ObjectStorageScheme = 'file' | 'memory' | 's3' | 'gs' | 'abfs'

/** The schemes adapters provide, by package. */
export type AdapterScheme = Exclude<ObjectStorageScheme, 'file' | 'memory'>

/** Every accepted scheme (Airflow's ObjectStoragePath aliases included) and the storage it names. */
export const OBJECT_STORAGE_SCHEMES: Readonly<Record<string, ObjectStorageScheme>> = {
  file: 'file',
  local: 'file',
  memory: 'memory',
  s3: 's3',
  s3a: 's3',
  s3n: 's3',
  gs: 'gs',
  gcs: 'gs',
  abfs: 'abfs',
  abfss: 'abfs',
  adl: 'abfs',
  az: 'abfs',
}

/** The package that provides each adapter scheme; it exports an {@link ObjectStoreFactory} named `objectStoreFactory`. */
export const ADAPTER_PACKAGES: Readonly<Record<AdapterScheme, string>> = {
  s3: '@xcom/s3',
  gs: '@xcom/gcs',
  abfs: '@xcom/azure',
}

/** An object storage URL split as Airflow does: core's {@link ObjectStorageUrl} with the scheme resolved to a known one. */
export interface ParsedObjectStorageUrl extends ObjectStorageUrl {
  scheme: ObjectStorageScheme
}

/**
 * Splits an object storage URL `scheme://[conn_id@]bucket/prefix` (Python `urlsplit` semantics, like Airflow).
 * `file:///abs/dir`, `file://relative/dir` and `memory://name/prefix` are accepted too.
 * @param source what to name in errors, e.g. the environment variable the URL came from.
 * @throws XComError `E_UNKNOWN_SCHEME` for a scheme no adapter provides; `E_CONFIG` for a URL without a scheme or
 * bucket, with credentials in it, or with a `.`/`..` prefix segment.
 */
export function parseObjectStorageUrl(
  url: string,
  source = 'The object storage URL',
): ParsedObjectStorageUrl {
  const shown = typeof url === 'string' ? maskUrl(url) : String(url)
  const invalid = (why: string): never => {
    throw new XComError(
      'E_CONFIG',
      `${source} ${JSON.stringify(shown)} ${why}. Use scheme://[conn_id@]bucket/prefix, e.g. s3://my_conn@my-bucket/xcom or file:///var/lib/xcom.`,
    )
  }
  if (typeof url !== 'string' || !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return invalid('has no scheme')
  const parts = pySplitUrl(url)
  const scheme = OBJECT_STORAGE_SCHEMES[parts.scheme]
  if (!scheme) {
    throw new XComError(
      'E_UNKNOWN_SCHEME',
      `${source} ${JSON.stringify(shown)} has the unknown scheme "${parts.scheme}://": use one of ${Object.keys(OBJECT_STORAGE_SCHEMES).join(', ')}.`,
    )
  }
  if (parts.userinfo !== undefined && pyUnquote(parts.userinfo).includes(':')) {
    return invalid(
      'holds credentials: name a connection instead (scheme://conn_id@bucket/...) and define it in XCOM_CONN_<ID> or AIRFLOW_CONN_<ID>',
    )
  }
  const at = parts.netloc.lastIndexOf('@')
  const bucket = pyUnquote(at === -1 ? parts.netloc : parts.netloc.slice(at + 1))
  const path = pyUnquote(parts.path)
  const prefix = path.replace(/^\/+|\/+$/g, '')
  if (scheme !== 'file') {
    if (bucket === '') return invalid('names no bucket')
    // No bucket name has a ":": this is `key:secret` whose secret holds a "/" (or a port, which buckets have not).
    if (bucket.includes(':')) return invalid('holds credentials or a port where the bucket belongs')
    if (prefix.split('/').some((segment) => segment === '.' || segment === '..'))
      return invalid('has a "." or ".." prefix segment')
  }
  return {
    url,
    scheme,
    protocol: parts.scheme,
    connId: parts.userinfo === undefined || parts.userinfo === '' ? undefined : parts.userinfo,
    bucket,
    path,
    prefix,
    options: Object.fromEntries(pyParseQuery(parts.query)),
  }
}

/** Options of {@link objectStoreFromUrl}. */
export interface ObjectStoreFromUrlOptions {
  /** Resolves the URL's `conn_id`. @default new EnvConnectionResolver(process.env) */
  connections?: ConnectionResolver
  /** What to name in errors, e.g. `XCOM_OBJECTSTORAGE_PATH`. @default "The object storage URL" */
  source?: string
  /**
   * Use another factory, or another module exporting `objectStoreFactory` (a package name or file path), for an
   * adapter scheme. @default the packages of {@link ADAPTER_PACKAGES}
   */
  adapters?: Partial<Record<AdapterScheme, ObjectStoreFactory | string>>
}

/**
 * Builds the store a URL names: `file://` and `memory://` directly; `s3`, `gs`/`gcs` and `abfs`/`az` through the
 * `objectStoreFactory` of `@xcom/s3`, `@xcom/gcs` and `@xcom/azure`, imported only when needed, with the URL's
 * connection resolved first.
 * @throws XComError `E_UNKNOWN_SCHEME` naming the package to install when the scheme's adapter is missing; `E_CONFIG`
 * for a malformed URL, an undefined connection, or an adapter without `objectStoreFactory`.
 */
export async function objectStoreFromUrl(
  url: string,
  options: ObjectStoreFromUrlOptions = {},
): Promise<ObjectStore> {
  const source = options.source ?? 'The object storage URL'
  const parsed = parseObjectStorageUrl(url, source)
  if (parsed.scheme === 'file') return new FileObjectStore({ root: fileRoot(parsed, source) })
  if (parsed.scheme === 'memory')
    return new MemoryObjectStore({ bucket: parsed.bucket || 'default', prefix: parsed.prefix })
  const factory = await loadFactory(
    parsed,
    options.adapters?.[parsed.scheme] ?? ADAPTER_PACKAGES[parsed.scheme],
    source,
  )
  let connection: Connection | undefined
  if (parsed.connId !== undefined) {
    connection = await (options.connections ?? new EnvConnectionResolver()).get(parsed.connId)
    if (!connection) throw missingConnection(parsed.connId, source)
  }
  try {
    return await factory(parsed, connection)
  } catch (error) {
    // The adapter names its option; only this function knows which setting the URL came from.
    const message = maskText((error as Error)?.message ?? String(error))
    if (message.includes(source)) throw error
    throw new XComError(
      XComError.is(error) ? error.code : 'E_CONFIG',
      `${source} (${parsed.protocol}://${parsed.bucket}${parsed.path ? parsed.path : ''}): ${message}`,
      { cause: error },
    )
  }
}

/** The directory a `file://` URL names: `file:///abs` is absolute, `file://rel/dir` relative to the working directory. */
function fileRoot(parsed: ParsedObjectStorageUrl, source: string): string {
  const root =
    parsed.bucket === '' || parsed.bucket === 'localhost' ? parsed.path : `${parsed.bucket}${parsed.path}`
  if (root === '')
    throw new XComError(
      'E_CONFIG',
      `${source} ${JSON.stringify(maskUrl(parsed.url))} names no directory: use file:///absolute/dir or file://relative/dir.`,
    )
  return root
}

async function loadFactory(
  parsed: ParsedObjectStorageUrl,
  adapter: ObjectStoreFactory | string,
  source: string,
): Promise<ObjectStoreFactory> {
  if (typeof adapter === 'function') return adapter
  const loaded = await importModule(adapter, source, {
    whenMissing: {
      code: 'E_UNKNOWN_SCHEME',
      message: `${source} uses ${parsed.protocol}://, whose adapter ${adapter} is not installed: run \`npm install ${adapter}\`.`,
    },
  })
  const factory = loaded.objectStoreFactory
  if (typeof factory !== 'function') {
    throw new XComError(
      'E_CONFIG',
      `${adapter} does not export objectStoreFactory(url, connection), needed for ${parsed.protocol}:// URLs: upgrade it.`,
    )
  }
  return factory as ObjectStoreFactory
}
