import { type Connection, XComError } from '@xcom/core'
import { pySplitUrl } from '@xcom/core/adapter'

/**
 * How to reach and authenticate to a storage account without a ready client. The store uses the first that is set:
 * `connectionString`, then `accountKey`, then `sasToken`, then `anonymous`.
 */
export interface AzureCredentialOptions {
  /** A storage connection string (`DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...` or with a SAS). */
  connectionString?: string | undefined
  /**
   * The account (service) URL, e.g. `https://myaccount.blob.core.windows.net` or azurite's
   * `http://127.0.0.1:10000/devstoreaccount1`; may carry a SAS in its query.
   * @default `https://<accountName>.blob.core.windows.net`
   */
  accountUrl?: string | undefined
  /**
   * The storage account name, needed with `accountKey`.
   * @default the first label of the account URL's host, or its first path segment for an IP or localhost URL
   */
  accountName?: string | undefined
  /** The account's shared key (base64). */
  accountKey?: string | undefined
  /** A SAS token (the query string, with or without its leading `?`). */
  sasToken?: string | undefined
  /** Access a public container without credentials. @default false */
  anonymous?: boolean | undefined
}

/** Connection types read with adlfs's rules (Airflow's `abfs`/`abfss`/`adl` object storage); others use wasb's. */
const ADLFS_TYPES = new Set(['abfs', 'abfss', 'adl', 'adls', 'azure_data_lake'])

/**
 * Maps an Airflow connection to {@link AzureCredentialOptions}, following the rules of Airflow's Azure provider.
 *
 * `wasb` connections (and any type not listed below), as `WasbHook.get_conn` reads them:
 * 1. extra `connection_string` wins;
 * 2. extra `tenant_id` means a service principal (login = client id, password = client secret): not supported here,
 *    as it needs `@azure/identity`;
 * 3. the account URL is the host (`https://` added when it has no protocol; a host without a dot, other than
 *    `localhost`, is taken as an old Active Directory id and replaced), else `https://<login>.blob.core.windows.net/`;
 *    as an extension, a `port` and a `schema` given beside a host without them are added (so
 *    `wasb://http://devstoreaccount1:KEY@127.0.0.1:10000/devstoreaccount1` reaches azurite);
 * 4. extra `shared_access_key` is the account key; else extra `sas_token` (a full URL when it starts with `https`,
 *    else appended to the account URL); else the password is the account key; else extra `account_key`;
 * 5. nothing set means `DefaultAzureCredential` (or a managed identity with `managed_identity_client_id`): not
 *    supported here, as it needs `@azure/identity`.
 *
 * `abfs`, `abfss`, `adl`, `adls` and `azure_data_lake` connections, as Airflow's adlfs `get_fs` reads them:
 * extra `connection_string` wins; `tenant_id` is a service principal (unsupported, as above); the account name is the
 * extra `account_name`, else the first label of a host with a dot, else the login (for `adls`: host first, then
 * login); the account URL is `https://<account_host>` with extra `account_host`, else
 * `https://<account name>.blob.core.windows.net`; the key is extra `account_key`, else the password; else extra
 * `sas_token`; else anonymous access, unless extra `anon` is false (then `DefaultAzureCredential`: unsupported).
 *
 * Every extra may also be spelled `extra__<conn type>__<name>` (Airflow's legacy prefix); empty values count as unset.
 *
 * @throws XComError `E_CONFIG` for service principals, managed identities and `DefaultAzureCredential` (they need
 *   `@azure/identity`, which this package does not depend on: build a `BlobServiceClient` with such a credential and
 *   pass it as `client`), and when neither a connection string nor an account can be found. Messages never contain
 *   secrets.
 */
export function azureOptionsFromConnection(connection: Connection): AzureCredentialOptions {
  const extra = connection.extra ?? {}
  const field = (name: string): string | undefined => {
    const value = name in extra ? extra[name] : extra[`extra__${connection.connType}__${name}`]
    if (value === undefined || value === null || value === '') return undefined
    return typeof value === 'string' ? value : String(value)
  }
  const connectionString = field('connection_string')
  if (connectionString) return { connectionString }
  if (field('tenant_id')) {
    throw needsIdentity(
      connection,
      'its extra "tenant_id" asks for a service principal (ClientSecretCredential)',
    )
  }
  return ADLFS_TYPES.has(connection.connType)
    ? adlfsOptions(connection, field)
    : wasbOptions(connection, field)
}

/**
 * Credential options from the standard Azure Storage variables, for URLs without a connection id:
 * `AZURE_STORAGE_CONNECTION_STRING`; else `AZURE_STORAGE_ACCOUNT_NAME` (or `AZURE_STORAGE_ACCOUNT_URL`) with
 * `AZURE_STORAGE_ACCOUNT_KEY` or `AZURE_STORAGE_SAS_TOKEN`.
 * @param env the variables to read
 * @param what what to name in the error, e.g. the URL
 * @throws XComError `E_CONFIG` when none is set (the JavaScript SDK has no default credential chain without
 *   `@azure/identity`: name a connection, or pass a client built with one).
 */
export function azureOptionsFromEnv(
  env: Record<string, string | undefined>,
  what = 'Azure storage',
): AzureCredentialOptions {
  const value = (name: string) => env[name]?.trim() || undefined
  const connectionString = value('AZURE_STORAGE_CONNECTION_STRING')
  if (connectionString) return { connectionString }
  const accountName = value('AZURE_STORAGE_ACCOUNT_NAME')
  const accountUrl = value('AZURE_STORAGE_ACCOUNT_URL')
  const accountKey = value('AZURE_STORAGE_ACCOUNT_KEY')
  const sasToken = value('AZURE_STORAGE_SAS_TOKEN')
  if ((accountName || accountUrl) && (accountKey || sasToken)) {
    return accountKey ? { accountName, accountUrl, accountKey } : { accountName, accountUrl, sasToken }
  }
  throw new XComError(
    'E_CONFIG',
    `${what} names no connection and no Azure credentials are in the environment: name a connection ` +
      '(abfs://my_conn@container/prefix with AIRFLOW_CONN_MY_CONN or XCOM_CONN_MY_CONN), or set AZURE_STORAGE_CONNECTION_STRING, ' +
      'or AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN. Entra ID credentials need ' +
      '@azure/identity: build a BlobServiceClient with one and pass it as new AzureBlobObjectStore({ client, container }).',
  )
}

function wasbOptions(
  connection: Connection,
  field: (name: string) => string | undefined,
): AzureCredentialOptions {
  const accountUrl = blobAccountUrl(connection)
  const accountName = connection.login || undefined
  const sharedKey = field('shared_access_key')
  if (sharedKey) return { accountUrl, accountName, accountKey: sharedKey }
  const sasToken = field('sas_token')
  if (sasToken) {
    return sasToken.startsWith('https')
      ? { accountUrl: sasToken }
      : { accountUrl, sasToken: sasToken.replace(/^\?/, '') }
  }
  const key = connection.password || field('account_key')
  if (key) return { accountUrl, accountName, accountKey: key }
  const identity = field('managed_identity_client_id')
  throw needsIdentity(
    connection,
    identity
      ? 'its extra "managed_identity_client_id" asks for a managed identity'
      : 'it has no connection string, key or SAS token, so Airflow would use DefaultAzureCredential',
  )
}

function adlfsOptions(
  connection: Connection,
  field: (name: string) => string | undefined,
): AzureCredentialOptions {
  const hostLabel = accountNameFromHost(connection.host)
  const defaultName =
    connection.connType === 'adls'
      ? (hostLabel ?? connection.login)
      : hostLabel && connection.host?.includes('.')
        ? hostLabel
        : (connection.login ?? hostLabel)
  const accountName = field('account_name') ?? (defaultName || undefined)
  const accountHost = field('account_host')
  if (!accountName && !accountHost) throw noAccount(connection)
  const accountUrl = accountHost
    ? `https://${accountHost.replace(/^https?:\/\//, '')}`
    : `https://${accountName}.blob.core.windows.net`
  const key = field('account_key') ?? (connection.password || undefined)
  if (key) return { accountUrl, accountName, accountKey: key }
  const sasToken = field('sas_token')
  if (sasToken) return { accountUrl, sasToken: sasToken.replace(/^\?/, '') }
  const anon = field('anon')
  if (anon !== undefined && /^(false|0|f|no)$/i.test(anon)) {
    throw needsIdentity(
      connection,
      'its extra "anon" is false and it has no key or SAS token, so adlfs would use DefaultAzureCredential',
    )
  }
  return { accountUrl, anonymous: true }
}

/** Airflow's `parse_blob_account_url(host, login)`, plus the connection's port and schema (see above). */
function blobAccountUrl(connection: Connection): string {
  const { host, login, port, schema } = connection
  if (!host && !login) throw noAccount(connection)
  let url = host || `https://${login}.blob.core.windows.net/`
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) url = `https://${url}`
  const parts = pySplitUrl(url)
  let netloc = parts.netloc
  if (!netloc.includes('.') && parts.hostname !== 'localhost') {
    if (!login) throw noAccount(connection)
    netloc = `${login}.blob.core.windows.net`
  } else if (port !== undefined && parts.portText === undefined) {
    netloc = `${netloc}:${port}`
  }
  const path = parts.path || (host && schema ? `/${schema}` : '')
  return `${parts.scheme}://${netloc}${path}${parts.query ? `?${parts.query}` : ''}`
}

/** adlfs's account name from a host: the first label of its hostname. */
function accountNameFromHost(host: string | undefined): string | undefined {
  if (!host) return undefined
  const hostname = pySplitUrl(host.includes('://') ? host : `//${host}`).hostname
  return hostname ? hostname.split('.', 1)[0] : undefined
}

function needsIdentity(connection: Connection, why: string): XComError {
  return new XComError(
    'E_CONFIG',
    `Azure connection "${connection.id}" cannot be used as is: ${why}, which needs @azure/identity (not a dependency of @xcom/azure). ` +
      'Either give the connection a connection string, an account key or a SAS token, or build a client yourself and pass it: ' +
      'new AzureBlobObjectStore({ client: new BlobServiceClient(accountUrl, new DefaultAzureCredential()), container }).',
  )
}

function noAccount(connection: Connection): XComError {
  return new XComError(
    'E_CONFIG',
    `Azure connection "${connection.id}" names no storage account: set the login (account name) or the host (account URL), ` +
      'or an extra "connection_string".',
  )
}
