import { randomUUID } from 'node:crypto'
import { type ObjectStoreFactory, XCom, XComError } from '@xcom/core'
import { parseConnection } from '@xcom/core/adapter'
import {
  CLAIM_KEY,
  type ObjectReference,
  ObjectStoreXComBackend,
  objectStoreFromUrl,
  parseObjectStorageUrl,
} from '@xcom/objectstore'
import { expectNoSecrets } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { AzureBlobObjectStore, objectStoreFactory } from '../src/index.ts'
import { azuriteFor, blobNames } from './support.ts'

const azurite = await azuriteFor('the environment tests')

const KEY = 'a2V5'
const wasbJson = (extra: Record<string, unknown>) => JSON.stringify({ conn_type: 'wasb', extra })

/** The E_CONFIG error of `run`. */
function configError(run: () => unknown): XComError {
  let caught: unknown
  try {
    run()
  } catch (error) {
    caught = error
  }
  expect(XComError.is(caught, 'E_CONFIG'), `expected E_CONFIG, got ${String(caught)}`).toBe(true)
  return caught as XComError
}

describe('objectStoreFactory', () => {
  const connection = { id: 'my_conn', connType: 'wasb', login: 'acct', password: KEY, extra: {} }

  it('builds a store for abfs, abfss, adl and az URLs, showing the scheme and connection id', () => {
    for (const scheme of ['abfs', 'abfss', 'adl', 'az']) {
      const store = objectStoreFactory(
        parseObjectStorageUrl(`${scheme}://my_conn@container/some/prefix/`),
        connection,
      )
      expect(store).toBeInstanceOf(AzureBlobObjectStore)
      expect(store.url).toBe(`${scheme}://my_conn@container/some/prefix`)
      expect(store.url).not.toContain(KEY)
    }
  })

  it("has @xcom/core's ObjectStoreFactory type, the one @xcom/objectstore loads", async () => {
    const asLoaded: ObjectStoreFactory = objectStoreFactory
    const store = await asLoaded(parseObjectStorageUrl('az://my_conn@container/p'), connection)
    expect(store).toBeInstanceOf(AzureBlobObjectStore)
  })

  it('applies block_size, concurrency and batch_delete from the query', () => {
    const store = objectStoreFactory(
      parseObjectStorageUrl('abfs://my_conn@container/p?block_size=4194304&concurrency=2&batch_delete=false'),
      connection,
    )
    expect(store.capabilities.maxObjectSize).toBe(4194304 * 50_000)
    const error = configError(() =>
      objectStoreFactory(parseObjectStorageUrl('abfs://my_conn@container/p?region=x'), connection),
    )
    expect(error.message).toContain('unknown parameter "region"')
    configError(() =>
      objectStoreFactory(parseObjectStorageUrl('abfs://my_conn@container/p?block_size=0'), connection),
    )
  })

  it("refuses fsspec's container@account.dfs.core.windows.net form with an explanation", () => {
    const error = configError(() =>
      objectStoreFactory(parseObjectStorageUrl('abfs://container@acct.dfs.core.windows.net/p'), undefined),
    )
    expect(error.message).toContain('[conn_id@]container/prefix')
  })

  it('refuses other schemes', () => {
    expect(
      configError(() => objectStoreFactory(parseObjectStorageUrl('s3://bucket/p'), undefined)).message,
    ).toContain('@xcom/azure cannot open s3://')
  })

  it('propagates E_CONFIG of a connection it cannot use, without its secret', () => {
    const error = configError(() =>
      objectStoreFactory(parseObjectStorageUrl('abfs://sp@container'), {
        id: 'sp',
        connType: 'wasb',
        login: 'client',
        password: 'sp-secret-value',
        extra: { tenant_id: 't' },
      }),
    )
    expect(error.message).not.toContain('sp-secret-value')
  })
})

if (azurite) {
  const { connectionString, container, service } = azurite
  const ID = { dagId: 'etl', runId: 'r1', taskId: 'extract' }

  describe('XCom.fromEnv with an abfs:// path and an Airflow wasb connection (azurite)', () => {
    it('pushes to and pulls from azurite with the connection string in the extras (JSON form)', async () => {
      const prefix = `env-${randomUUID().slice(0, 8)}`
      const xcom = await XCom.fromEnv({
        XCOM_OBJECTSTORAGE_PATH: `abfs://my_conn@${container}/${prefix}`,
        XCOM_OBJECTSTORAGE_THRESHOLD: '0',
        XCOM_METADATA_URL: 'memory://',
        AIRFLOW_CONN_MY_CONN: wasbJson({ connection_string: connectionString }),
      })
      try {
        expect(xcom.backend).toBeInstanceOf(ObjectStoreXComBackend)
        await xcom.push(ID, { rows: [1, 2, 3] })
        const record = await xcom.metadata.get({ ...ID, mapIndex: -1, key: 'return_value' })
        const ref = (record?.value.kind === 'reference' ? record.value.ref : undefined) as
          | ObjectReference
          | undefined
        expect(ref?.uri).toBe(`abfs://my_conn@${container}/${prefix}/${ref?.objectKey}`)
        // The value, and the claim of the prefix by this metadata database.
        expect(await blobNames(service, container, `${prefix}/`)).toEqual(
          [`${prefix}/${ref?.objectKey}`, `${prefix}/${CLAIM_KEY}`].sort(),
        )
        expect(await xcom.pull(ID)).toEqual({ rows: [1, 2, 3] })
        await xcom.clear({ dagId: 'etl' })
        expect(await blobNames(service, container, `${prefix}/`)).toEqual([`${prefix}/${CLAIM_KEY}`])
      } finally {
        await xcom.close()
      }
    })

    it('accepts the Airflow URI forms: connection_string in the query, and login:key@http://host:port/account', async () => {
      const azuriteHandle = azurite.azurite
      if (!azuriteHandle) throw new Error('azurite handle missing')
      const endpoint = new URL(azuriteHandle.blobEndpoint)
      const values = [
        `wasb://?connection_string=${encodeURIComponent(connectionString)}`,
        `wasb://http://${azuriteHandle.accountName}:${encodeURIComponent(azuriteHandle.accountKey)}@${endpoint.host}${endpoint.pathname}`,
      ]
      for (const value of values) {
        const prefix = `env-uri-${randomUUID().slice(0, 8)}`
        const store = await objectStoreFromUrl(`abfs://my_conn@${container}/${prefix}`, {
          connections: { get: async (id) => (id === 'my_conn' ? parseConnection(id, value) : undefined) },
        })
        await store.put('k', new Uint8Array([1, 2, 3]))
        expect(await blobNames(service, container, `${prefix}/`)).toEqual([`${prefix}/k`])
        expect((await store.deleteMany(['k'])).failed).toEqual([])
      }
    })

    it('keeps the key of a wasb connection out of the errors of a push and a pull it cannot authorize', async () => {
      const azuriteHandle = azurite.azurite
      if (!azuriteHandle) throw new Error('azurite handle missing')
      const endpoint = new URL(azuriteHandle.blobEndpoint)
      const wrongKey = Buffer.from(`wrong-${randomUUID()}`).toString('base64')
      const prefix = `env-denied-${randomUUID().slice(0, 8)}`
      const xcom = await XCom.fromEnv({
        XCOM_OBJECTSTORAGE_PATH: `abfs://bad_conn@${container}/${prefix}`,
        XCOM_OBJECTSTORAGE_THRESHOLD: '0',
        XCOM_METADATA_URL: 'memory://',
        AIRFLOW_CONN_BAD_CONN: `wasb://http://${azuriteHandle.accountName}:${encodeURIComponent(wrongKey)}@${endpoint.host}${endpoint.pathname}`,
      })
      try {
        const failure = (promise: Promise<unknown>) =>
          promise.then(
            () => {
              throw new Error('expected a failure')
            },
            (reason: unknown) => reason,
          )
        const push = await failure(xcom.push(ID, { rows: [1] }))
        expect(XComError.is(push, 'E_PERMISSION_DENIED'), String(push)).toBe(true)
        expectNoSecrets(push, [wrongKey, encodeURIComponent(wrongKey)])
        const gc = await failure(xcom.gc({ graceMs: 0 }))
        expect(XComError.is(gc), String(gc)).toBe(true)
        expectNoSecrets(gc, [wrongKey, encodeURIComponent(wrongKey)])
        expect(await blobNames(service, container, `${prefix}/`)).toEqual([])
      } finally {
        await xcom.close()
      }
    })

    it('fails with E_CONFIG naming the variable when the connection is not defined', async () => {
      const error = await XCom.fromEnv({
        XCOM_OBJECTSTORAGE_PATH: `abfs://missing_conn@${container}/p`,
        XCOM_METADATA_URL: 'memory://',
      }).then(
        () => undefined,
        (reason: unknown) => reason,
      )
      expect(XComError.is(error, 'E_CONFIG')).toBe(true)
      expect((error as XComError).message).toContain('AIRFLOW_CONN_MISSING_CONN')
    })
  })
}

describe('objectStoreFactory errors', () => {
  it('masks SAS tokens and keys of the URL in its messages', async () => {
    const { objectStoreFactory } = await import('../src/index.ts')
    const { parseObjectStorageUrl } = await import('@xcom/objectstore')
    const url = parseObjectStorageUrl('abfs://container/x?sas_token=sv%3D2024%26sig%3DSECRETSIG&bogus=1')
    const error = await Promise.resolve()
      .then(() => objectStoreFactory(url, undefined))
      .then(
        () => undefined,
        (reason: unknown) => reason as Error,
      )
    expect(error?.message).toContain('bogus')
    expect(error?.message).not.toContain('SECRETSIG')
  })
})
