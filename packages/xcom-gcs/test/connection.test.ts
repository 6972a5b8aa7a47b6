import { Writable } from 'node:stream'
import { IdempotencyStrategy, type Storage } from '@google-cloud/storage'
import type { Connection, ObjectStorageUrl, ObjectStoreFactory } from '@xcom/core'
import { EnvConnectionResolver, parseConnection } from '@xcom/core/adapter'
import { expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { gcsOptionsFromConnection } from '../src/connection.ts'
import { GcsObjectStore, objectStoreFactory } from '../src/index.ts'

/** Parses an AIRFLOW_CONN_* value the way core does, then maps it. */
function fromValue(value: string, id = 'gcp_conn') {
  return gcsOptionsFromConnection(parseConnection(id, value))
}

/** Runs `run`, which must throw an `E_CONFIG` XComError, and returns that error. */
const configError = (run: () => unknown) => expectXComError(run, 'E_CONFIG')

const KEY = {
  type: 'service_account',
  project_id: 'p',
  private_key_id: 'kid',
  private_key: '-----BEGIN PRIVATE KEY-----\\nMIIEsecretsecret\\n-----END PRIVATE KEY-----\\n',
  client_email: 'sa@p.iam.gserviceaccount.com',
}

describe('gcsOptionsFromConnection: Airflow google_cloud_platform forms', () => {
  it('an empty google-cloud-platform:// URI means Application Default Credentials', () => {
    const connection = parseConnection('gcp', 'google-cloud-platform://')
    expect(connection.connType).toBe('google_cloud_platform')
    expect(gcsOptionsFromConnection(connection)).toEqual({})
  })

  it('reads key_path and project from URI query parameters (percent-encoded path)', () => {
    expect(fromValue('google-cloud-platform://?key_path=%2Fkeys%2Fkey.json&project=airflow')).toEqual({
      keyFilename: '/keys/key.json',
      projectId: 'airflow',
    })
  })

  it('reads the legacy extra__google_cloud_platform__ names', () => {
    expect(
      fromValue(
        'google-cloud-platform://?extra__google_cloud_platform__key_path=/keys/key.json&extra__google_cloud_platform__project=legacy',
      ),
    ).toEqual({ keyFilename: '/keys/key.json', projectId: 'legacy' })
  })

  it('prefers the short name over the legacy name, even when the short one is empty (Airflow rule)', () => {
    const both = {
      conn_type: 'google_cloud_platform',
      extra: { project: 'short', extra__google_cloud_platform__project: 'long' },
    }
    expect(fromValue(JSON.stringify(both)).projectId).toBe('short')
    const emptyShort = {
      conn_type: 'google_cloud_platform',
      extra: { project: '', extra__google_cloud_platform__project: 'long' },
    }
    expect(fromValue(JSON.stringify(emptyShort)).projectId).toBeUndefined()
  })

  it('parses keyfile_dict given as a JSON string and restores escaped newlines in private_key', () => {
    const value = JSON.stringify({
      conn_type: 'google_cloud_platform',
      extra: { keyfile_dict: JSON.stringify(KEY), project: 'p' },
    })
    const options = fromValue(value)
    expect(options.projectId).toBe('p')
    expect(options.credentials?.client_email).toBe(KEY.client_email)
    expect(options.credentials?.private_key).toBe(
      '-----BEGIN PRIVATE KEY-----\nMIIEsecretsecret\n-----END PRIVATE KEY-----\n',
    )
    expect(options.keyFilename).toBeUndefined()
  })

  it('accepts keyfile_dict as an object, and under its legacy name', () => {
    const value = JSON.stringify({
      conn_type: 'google_cloud_platform',
      extra: { extra__google_cloud_platform__keyfile_dict: KEY },
    })
    expect(fromValue(value).credentials?.private_key_id).toBe('kid')
  })

  it('accepts keyfile_dict URL-encoded in a URI query', () => {
    const uri = `google-cloud-platform://?keyfile_dict=${encodeURIComponent(JSON.stringify(KEY))}`
    expect(fromValue(uri).credentials?.client_email).toBe(KEY.client_email)
  })

  it('accepts the __extra__ JSON form of a URI', () => {
    const uri = `google-cloud-platform://?__extra__=${encodeURIComponent(JSON.stringify({ project: 'x', num_retries: 2 }))}`
    expect(fromValue(uri)).toEqual({ projectId: 'x', maxRetries: 2 })
  })

  it('maps credential_config_file: a path to keyFilename, inline JSON to credentials', () => {
    expect(fromValue('google-cloud-platform://?credential_config_file=%2Fetc%2Fwif.json').keyFilename).toBe(
      '/etc/wif.json',
    )
    const config = {
      type: 'external_account',
      audience: '//iam.googleapis.com/x',
      subject_token_type: 't',
      token_url: 'u',
    }
    const value = JSON.stringify({
      conn_type: 'google_cloud_platform',
      extra: { credential_config_file: JSON.stringify(config) },
    })
    expect(fromValue(value).credentials).toEqual(config)
  })

  it('splits a comma-separated scope', () => {
    const uri =
      'google-cloud-platform://?scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdevstorage.read_write%2C+https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform'
    expect(fromValue(uri).scopes).toEqual([
      'https://www.googleapis.com/auth/devstorage.read_write',
      'https://www.googleapis.com/auth/cloud-platform',
    ])
  })

  it('maps num_retries (string or number) to maxRetries', () => {
    expect(fromValue('google-cloud-platform://?num_retries=5').maxRetries).toBe(5)
    expect(
      fromValue(JSON.stringify({ conn_type: 'google_cloud_platform', extra: { num_retries: 0 } })).maxRetries,
    ).toBe(0)
  })

  it('maps is_anonymous and quota_project_id', () => {
    expect(fromValue('google-cloud-platform://?is_anonymous=true&quota_project_id=billing')).toEqual({
      anonymous: true,
      quotaProjectId: 'billing',
    })
    expect(fromValue('google-cloud-platform://?is_anonymous=False')).toEqual({})
    expect(
      fromValue(JSON.stringify({ conn_type: 'google_cloud_platform', extra: { is_anonymous: true } }))
        .anonymous,
    ).toBe(true)
  })

  it('maps the gcsfs gcs.endpoint extra, and endpoint / api_endpoint, to apiEndpoint', () => {
    const gcsfs = JSON.stringify({
      conn_type: 'google_cloud_platform',
      extra: { 'gcs.endpoint': 'http://127.0.0.1:4443' },
    })
    expect(fromValue(gcsfs).apiEndpoint).toBe('http://127.0.0.1:4443')
    expect(fromValue('google-cloud-platform://?endpoint=http%3A%2F%2F127.0.0.1%3A9000').apiEndpoint).toBe(
      'http://127.0.0.1:9000',
    )
    expect(fromValue('google-cloud-platform://?api_endpoint=http://127.0.0.1:9001').apiEndpoint).toBe(
      'http://127.0.0.1:9001',
    )
  })

  it("accepts xcom's own gs:// connection form", () => {
    expect(fromValue('gs://?project=p&endpoint=http%3A%2F%2F127.0.0.1%3A1')).toEqual({
      projectId: 'p',
      apiEndpoint: 'http://127.0.0.1:1',
    })
  })

  it('resolves AIRFLOW_CONN_<ID> through the core resolver', async () => {
    const resolver = new EnvConnectionResolver({
      AIRFLOW_CONN_MY_GCP: 'google-cloud-platform://?project=from-env',
    })
    const connection = (await resolver.get('my_gcp')) as Connection
    expect(gcsOptionsFromConnection(connection)).toEqual({ projectId: 'from-env' })
  })
})

describe('gcsOptionsFromConnection: refusals (E_CONFIG, no secret in the message)', () => {
  it('refuses another connection type', async () => {
    const error = await configError(() => fromValue('aws://KEY:SECRET@'))
    expect(error.message).toContain('"aws"')
    expect(error.message).not.toContain('SECRET')
  })

  it('refuses impersonation_chain instead of ignoring it', async () => {
    const error = await configError(() =>
      fromValue('google-cloud-platform://?impersonation_chain=sa%40p.iam.gserviceaccount.com'),
    )
    expect(error.message).toContain('impersonation_chain')
    expect(error.message).not.toContain('sa@p')
  })

  it('refuses key_secret_name (Secret Manager keys)', async () => {
    expect(
      (await configError(() => fromValue('google-cloud-platform://?key_secret_name=k'))).message,
    ).toContain('key_secret_name')
  })

  it('refuses invalid keyfile_dict JSON without showing it', async () => {
    const value = JSON.stringify({
      conn_type: 'google_cloud_platform',
      extra: { keyfile_dict: '{"private_key": "TOPSECRET' },
    })
    const error = await configError(() => fromValue(value))
    expect(error.message).toContain('keyfile_dict')
    expect(error.message).not.toContain('TOPSECRET')
  })

  it('refuses a keyfile_dict that is not an object', async () => {
    await configError(() =>
      fromValue(JSON.stringify({ conn_type: 'google_cloud_platform', extra: { keyfile_dict: '[1]' } })),
    )
  })

  it('refuses more than one credential source', async () => {
    const value = JSON.stringify({
      conn_type: 'google_cloud_platform',
      extra: { key_path: '/k.json', keyfile_dict: KEY },
    })
    const error = await configError(() => fromValue(value))
    expect(error.message).toContain('mutually exclusive')
    expect(error.message).not.toContain('MIIE')
  })

  it('refuses P12 and non-JSON key files, like Airflow', async () => {
    expect(
      (await configError(() => fromValue('google-cloud-platform://?key_path=/k.p12'))).message,
    ).toContain('P12')
    expect(
      (await configError(() => fromValue('google-cloud-platform://?key_path=/k.pem'))).message,
    ).toContain('.json')
  })

  it('refuses a non-integer num_retries and an unrecognised is_anonymous', async () => {
    await configError(() => fromValue('google-cloud-platform://?num_retries=three'))
    await configError(() => fromValue('google-cloud-platform://?num_retries=-1'))
    await configError(() => fromValue('google-cloud-platform://?is_anonymous=maybe'))
  })

  it('refuses non-string values where Airflow expects strings', async () => {
    await configError(() =>
      fromValue(JSON.stringify({ conn_type: 'google_cloud_platform', extra: { project: 42 } })),
    )
  })
})

describe('objectStoreFactory', () => {
  const parsed: ObjectStorageUrl = {
    url: 'gs://c@bkt/pre/fix',
    scheme: 'gs',
    protocol: 'gcs',
    connId: 'c',
    bucket: 'bkt',
    path: '/pre/fix',
    prefix: 'pre/fix',
    options: {},
  }

  it('builds a store named by the URL, with the connection mapped', () => {
    const connection = parseConnection(
      'c',
      'google-cloud-platform://?project=p&endpoint=http%3A%2F%2F127.0.0.1%3A1',
    )
    const store = objectStoreFactory(parsed, connection)
    expect(store).toBeInstanceOf(GcsObjectStore)
    expect(store.url).toBe('gcs://c@bkt/pre/fix')
    expect(store.prefix).toBe('pre/fix')
    expect(store.client.apiEndpoint).toBe('http://127.0.0.1:1')
    expect(store.client.projectId).toBe('p')
  })

  it("has @xcom/core's ObjectStoreFactory type, the one @xcom/objectstore loads", async () => {
    const asLoaded: ObjectStoreFactory = objectStoreFactory
    expect(await asLoaded(parsed, undefined)).toBeInstanceOf(GcsObjectStore)
  })

  it('uses the default credential chain without a connection', () => {
    const store = objectStoreFactory({ ...parsed, protocol: 'gs', connId: undefined }, undefined)
    expect(store.url).toBe('gs://bkt/pre/fix')
    expect(store.client.apiEndpoint).toBe('https://storage.googleapis.com')
  })

  it('refuses other schemes and a missing bucket', async () => {
    await configError(() => objectStoreFactory({ ...parsed, scheme: 's3', protocol: 's3' }))
    await configError(() => objectStoreFactory({ ...parsed, bucket: '' }))
  })

  it('maps its query parameters to store options', async () => {
    const calls: unknown[] = []
    const file = {
      createWriteStream: (options: unknown) => {
        calls.push(options)
        return new Writable({ write: (_chunk, _encoding, done) => done() })
      },
    }
    const bucket = {
      file: () => file,
      getFiles: async (query: unknown) => {
        calls.push(query)
        return [[], null]
      },
    }
    const client = { retryOptions: {}, bucket: () => bucket } as unknown as Storage
    const options = {
      chunk_size: '262144',
      resumable_threshold: '0',
      validation: 'md5',
      page_size: '7',
      delete_concurrency: '2',
    }
    const store = objectStoreFactory({ ...parsed, options }, undefined, { client })
    expect((await store.put('k', new Uint8Array(10))).size).toBe(10)
    for await (const _ of store.list('')) {
      /* nothing */
    }
    expect(calls).toEqual([
      expect.objectContaining({ resumable: true, chunkSize: 262144, validation: 'md5' }),
      expect.objectContaining({ maxResults: 7 }),
    ])
  })

  it('refuses parameter values it cannot use, naming the parameter', async () => {
    for (const [name, value] of [
      ['chunk_size', '1MiB'],
      ['page_size', '-1'],
      ['validation', 'sha256'],
    ] as const) {
      const error = await configError(() => objectStoreFactory({ ...parsed, options: { [name]: value } }))
      expect(error.message).toContain(name)
    }
    await configError(() => objectStoreFactory({ ...parsed, options: { delete_concurrency: '0' } }))
  })

  it('refuses an unknown query parameter, naming it, the masked URL and the accepted names', async () => {
    const error = await configError(() =>
      objectStoreFactory({
        ...parsed,
        url: 'gcs://c@bkt/pre/fix?chunksize=1&token=SECRET',
        options: { chunksize: '1', token: 'SECRET' },
      }),
    )
    expect(error.message).toContain('"chunksize"')
    expect(error.message).toContain('gcs://c@bkt/pre/fix')
    expect(error.message).toContain(
      'chunk_size, resumable_threshold, validation, delete_concurrency, page_size',
    )
    expect(error.message).not.toContain('SECRET')
  })

  it('passes num_retries to the client retry options, keeping RetryAlways', () => {
    const store = objectStoreFactory(parsed, parseConnection('c', 'google-cloud-platform://?num_retries=7'))
    expect(store.client.retryOptions.maxRetries).toBe(7)
    expect(store.client.retryOptions.idempotencyStrategy).toBe(IdempotencyStrategy.RetryAlways)
  })
})
