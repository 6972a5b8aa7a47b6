import { type Connection, XComError } from '@xcom/core'
import { parseConnection } from '@xcom/core/adapter'
import { describe, expect, it } from 'vitest'
import { azureOptionsFromConnection, azureOptionsFromEnv } from '../src/connection.ts'

const KEY = 'a2V5K3dpdGgvc2xhc2g9PQ==' // base64 with '+', '/' and '='
const SAS = 'sv=2024-08-04&ss=b&srt=sco&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=c2lnbmF0dXJl'
const AZURITE =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=azuriteKey==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;'

/** Parses like AIRFLOW_CONN_<ID> does (URI or JSON), then maps it. */
const fromValue = (value: string) => azureOptionsFromConnection(parseConnection('my_conn', value))
/** A `wasb` connection in Airflow's JSON form, parsed and mapped. */
const fromJson = (fields: Record<string, unknown>) =>
  fromValue(JSON.stringify({ conn_type: 'wasb', ...fields }))
const conn = (fields: Partial<Connection>): Connection => ({
  id: 'my_conn',
  connType: 'wasb',
  extra: {},
  ...fields,
})
/** The options of a connection with these fields (a `wasb` connection `my_conn` by default). */
const mapped = (fields: Partial<Connection>) => azureOptionsFromConnection(conn(fields))

/** The E_CONFIG error of mapping `connection`, checked to hold no secret. */
function configError(connection: Connection, secrets: string[] = []): XComError {
  let caught: unknown
  try {
    azureOptionsFromConnection(connection)
  } catch (error) {
    caught = error
  }
  expect(XComError.is(caught, 'E_CONFIG'), `expected E_CONFIG, got ${String(caught)}`).toBe(true)
  const error = caught as XComError
  expect(error.message).toContain('"my_conn"')
  for (const secret of secrets) expect(error.message).not.toContain(secret)
  return error
}

describe('azureOptionsFromConnection: wasb connections (WasbHook rules)', () => {
  it('uses extra connection_string first, over everything else', () => {
    expect(
      fromJson({ login: 'acct', password: KEY, extra: { connection_string: AZURITE, sas_token: SAS } }),
    ).toEqual({
      connectionString: AZURITE,
    })
    expect(fromValue(`wasb://?connection_string=${encodeURIComponent(AZURITE)}`)).toEqual({
      connectionString: AZURITE,
    })
    expect(fromJson({ extra: JSON.stringify({ extra__wasb__connection_string: AZURITE }) })).toEqual({
      connectionString: AZURITE,
    })
  })

  it('reads login as the account name and password as the key (URI with a %2F in the key, and JSON)', () => {
    const uriKey = KEY.replaceAll('/', '%2F')
    expect(fromValue(`wasb://acct:${uriKey}@`)).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net/',
      accountName: 'acct',
      accountKey: KEY,
    })
    expect(fromJson({ login: 'acct', password: KEY })).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net/',
      accountName: 'acct',
      accountKey: KEY,
    })
  })

  it('takes the host as the account URL, adding https:// when it has no protocol', () => {
    expect(fromValue(`wasb://acct:${encodeURIComponent(KEY)}@acct.blob.core.windows.net`)).toMatchObject({
      accountUrl: 'https://acct.blob.core.windows.net',
      accountKey: KEY,
    })
    expect(
      fromJson({ login: 'acct', password: KEY, host: 'https://acct.privatelink.blob.core.windows.net/' }),
    ).toMatchObject({
      accountUrl: 'https://acct.privatelink.blob.core.windows.net/',
    })
  })

  it('treats a host without a dot as an old Active Directory id, except localhost', () => {
    expect(mapped({ login: 'acct', password: KEY, host: 'tenant-guid' })).toMatchObject({
      accountUrl: 'https://acct.blob.core.windows.net',
    })
    expect(
      mapped({ login: 'devstoreaccount1', password: KEY, host: 'http://localhost:10000/devstoreaccount1' }),
    ).toMatchObject({
      accountUrl: 'http://localhost:10000/devstoreaccount1',
    })
  })

  it('adds the port and schema to a host with a protocol (the azurite URI form)', () => {
    const options = fromValue(
      `wasb://http://devstoreaccount1:${KEY.replaceAll('/', '%2F')}@127.0.0.1:10000/devstoreaccount1`,
    )
    expect(options).toEqual({
      accountUrl: 'http://127.0.0.1:10000/devstoreaccount1',
      accountName: 'devstoreaccount1',
      accountKey: KEY,
    })
  })

  it('uses extra shared_access_key (also legacy-prefixed) as the account key before the password', () => {
    expect(mapped({ login: 'acct', password: 'ignored', extra: { shared_access_key: KEY } })).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net/',
      accountName: 'acct',
      accountKey: KEY,
    })
    expect(mapped({ login: 'acct', extra: { extra__wasb__shared_access_key: KEY } })).toMatchObject({
      accountKey: KEY,
    })
  })

  it('uses extra sas_token: a full https URL as is, else a token appended to the account URL', () => {
    const full = `https://acct.blob.core.windows.net/?${SAS}`
    expect(mapped({ login: 'acct', extra: { sas_token: full } })).toEqual({
      accountUrl: full,
    })
    expect(mapped({ login: 'acct', extra: { sas_token: `?${SAS}` } })).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net/',
      sasToken: SAS,
    })
    expect(fromValue(`wasb://acct@?sas_token=${encodeURIComponent(SAS)}`)).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net/',
      sasToken: SAS,
    })
  })

  it('falls back to extra account_key when there is no password', () => {
    expect(mapped({ login: 'acct', extra: { account_key: KEY } })).toMatchObject({
      accountName: 'acct',
      accountKey: KEY,
    })
    expect(mapped({ login: 'acct', password: 'pw', extra: { account_key: KEY } })).toMatchObject({
      accountKey: 'pw',
    })
  })

  it('counts empty extras as unset', () => {
    expect(
      mapped({
        login: 'acct',
        password: KEY,
        extra: { connection_string: '', sas_token: '', tenant_id: '' },
      }),
    ).toMatchObject({
      accountKey: KEY,
    })
  })

  it('refuses service principals (tenant_id) with E_CONFIG explaining to pass a client, without the secret', () => {
    const error = configError(
      conn({ login: 'client-id', password: 'client-secret-value', extra: { tenant_id: 'tenant' } }),
      ['client-secret-value'],
    )
    expect(error.message).toContain('tenant_id')
    expect(error.message).toContain('@azure/identity')
    expect(error.message).toContain('client')
    configError(
      conn({
        login: 'client-id',
        password: 'client-secret-value',
        extra: { extra__wasb__tenant_id: 'tenant', shared_access_key: KEY },
      }),
      ['client-secret-value', KEY],
    )
  })

  it('refuses managed identities and DefaultAzureCredential with E_CONFIG', () => {
    expect(
      configError(conn({ login: 'acct', extra: { managed_identity_client_id: 'mi' } })).message,
    ).toContain('managed identity')
    expect(configError(conn({ login: 'acct' })).message).toContain('DefaultAzureCredential')
    expect(configError(conn({ host: 'acct.blob.core.windows.net' })).message).toContain(
      'DefaultAzureCredential',
    )
  })

  it('refuses a connection naming no account', () => {
    expect(configError(conn({ password: KEY }), [KEY]).message).toContain('names no storage account')
  })
})

describe('azureOptionsFromConnection: abfs / adls connections (adlfs rules)', () => {
  it('uses connection_string first', () => {
    expect(mapped({ connType: 'abfs', extra: { connection_string: AZURITE, account_key: KEY } })).toEqual({
      connectionString: AZURITE,
    })
    expect(mapped({ connType: 'adls', extra: { extra__adls__connection_string: AZURITE } })).toEqual({
      connectionString: AZURITE,
    })
  })

  it('reads account_name / account_key extras, and login / password as their defaults', () => {
    expect(mapped({ connType: 'abfs', extra: { account_name: 'acct', account_key: KEY } })).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net',
      accountName: 'acct',
      accountKey: KEY,
    })
    expect(fromValue(`abfs://acct:${KEY.replaceAll('/', '%2F')}@`)).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net',
      accountName: 'acct',
      accountKey: KEY,
    })
    expect(
      mapped({ connType: 'abfss', login: 'acct', password: 'pw', extra: { account_key: KEY } }),
    ).toMatchObject({
      accountKey: KEY,
    })
  })

  it('takes the account name from a host with a dot (adls: from any host) before the login', () => {
    expect(
      mapped({ connType: 'abfs', login: 'other', password: KEY, host: 'acct.dfs.core.windows.net' }),
    ).toMatchObject({
      accountName: 'acct',
      accountUrl: 'https://acct.blob.core.windows.net',
    })
    expect(mapped({ connType: 'abfs', login: 'acct', password: KEY, host: 'nodots' })).toMatchObject({
      accountName: 'acct',
    })
    expect(mapped({ connType: 'adls', login: 'other', password: KEY, host: 'acct' })).toMatchObject({
      accountName: 'acct',
    })
  })

  it('uses account_host as the endpoint', () => {
    expect(
      mapped({
        connType: 'abfs',
        extra: { account_name: 'acct', account_key: KEY, account_host: 'acct.blob.example.org' },
      }),
    ).toMatchObject({
      accountUrl: 'https://acct.blob.example.org',
    })
  })

  it('uses sas_token without a key, and anonymous access without credentials (adlfs default)', () => {
    expect(mapped({ connType: 'adl', extra: { account_name: 'acct', sas_token: `?${SAS}` } })).toEqual({
      accountUrl: 'https://acct.blob.core.windows.net',
      sasToken: SAS,
    })
    expect(mapped({ connType: 'abfs', extra: { account_name: 'public' } })).toEqual({
      accountUrl: 'https://public.blob.core.windows.net',
      anonymous: true,
    })
  })

  it('refuses anon=false without credentials, tenant_id, and a missing account with E_CONFIG', () => {
    expect(
      configError(conn({ connType: 'abfs', extra: { account_name: 'acct', anon: 'false' } })).message,
    ).toContain('DefaultAzureCredential')
    expect(
      configError(conn({ connType: 'abfs', login: 'id', password: 'secret-pw', extra: { tenant_id: 't' } }), [
        'secret-pw',
      ]).message,
    ).toContain('service principal')
    configError(conn({ connType: 'abfs' }))
  })
})

describe('azureOptionsFromEnv', () => {
  it('reads AZURE_STORAGE_CONNECTION_STRING first, then account name or URL with a key or SAS', () => {
    expect(
      azureOptionsFromEnv({ AZURE_STORAGE_CONNECTION_STRING: AZURITE, AZURE_STORAGE_ACCOUNT_NAME: 'x' }),
    ).toEqual({ connectionString: AZURITE })
    expect(
      azureOptionsFromEnv({ AZURE_STORAGE_ACCOUNT_NAME: 'acct', AZURE_STORAGE_ACCOUNT_KEY: KEY }),
    ).toEqual({
      accountName: 'acct',
      accountUrl: undefined,
      accountKey: KEY,
    })
    expect(
      azureOptionsFromEnv({
        AZURE_STORAGE_ACCOUNT_URL: 'https://acct.blob.core.windows.net',
        AZURE_STORAGE_SAS_TOKEN: SAS,
      }),
    ).toEqual({
      accountName: undefined,
      accountUrl: 'https://acct.blob.core.windows.net',
      sasToken: SAS,
    })
  })

  it('explains what to set when nothing is there', () => {
    let caught: unknown
    try {
      azureOptionsFromEnv({ AZURE_STORAGE_ACCOUNT_NAME: 'acct' }, 'abfs://container/prefix')
    } catch (error) {
      caught = error
    }
    expect(XComError.is(caught, 'E_CONFIG')).toBe(true)
    expect((caught as XComError).message).toContain('AZURE_STORAGE_CONNECTION_STRING')
    expect((caught as XComError).message).toContain('abfs://container/prefix')
  })
})
