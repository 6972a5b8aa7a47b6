import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { XCom } from '@xcom/core'
import { EnvConnectionResolver } from '@xcom/core/adapter'
import { expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import {
  FileObjectStore,
  MemoryObjectStore,
  ObjectStoreXComBackend,
  objectStoreFromUrl,
  parseObjectStorageUrl,
} from '../src/index.ts'
import { ADAPTER_PACKAGES } from '../src/url.ts'
import { calls } from './fixtures/recording-adapter.ts'
import { ID, objectFiles, tempDir } from './helpers.ts'

const fixture = (name: string) => resolve(import.meta.dirname, 'fixtures', name)

describe('parseObjectStorageUrl', () => {
  it('splits scheme://[conn_id@]bucket/prefix like Airflow, resolving scheme aliases', () => {
    expect(parseObjectStorageUrl('s3://my_conn@my-bucket/xcom/data/')).toEqual({
      url: 's3://my_conn@my-bucket/xcom/data/',
      scheme: 's3',
      protocol: 's3',
      connId: 'my_conn',
      bucket: 'my-bucket',
      path: '/xcom/data/',
      prefix: 'xcom/data',
      options: {},
    })
    const cases: [string, string, string | undefined, string, string][] = [
      ['s3a://bucket', 's3', undefined, 'bucket', ''],
      ['S3N://Bucket/P', 's3', undefined, 'Bucket', 'P'],
      ['gs://gcp@b/p', 'gs', 'gcp', 'b', 'p'],
      ['gcs://b/a/b', 'gs', undefined, 'b', 'a/b'],
      ['abfs://wasb_default@container/x', 'abfs', 'wasb_default', 'container', 'x'],
      ['abfss://c/x', 'abfs', undefined, 'c', 'x'],
      ['az://c', 'abfs', undefined, 'c', ''],
      ['adl://c/y', 'abfs', undefined, 'c', 'y'],
      ['memory://name/pre', 'memory', undefined, 'name', 'pre'],
      ['s3://@bucket/p', 's3', undefined, 'bucket', 'p'],
      ['s3://a@b@bucket/p', 's3', 'a@b', 'bucket', 'p'],
      ['s3://b/my%20prefix', 's3', undefined, 'b', 'my prefix'],
    ]
    for (const [url, scheme, connId, bucket, prefix] of cases) {
      expect(parseObjectStorageUrl(url), url).toMatchObject({ scheme, connId, bucket, prefix })
    }
    expect(parseObjectStorageUrl('s3://b/p?region=eu-west-1&a=1&a=2#frag').options).toEqual({
      region: 'eu-west-1',
      a: '2',
    })
  })

  it('reads file:// URLs as absolute or relative directories', () => {
    expect(parseObjectStorageUrl('file:///var/lib/xcom')).toMatchObject({
      scheme: 'file',
      bucket: '',
      path: '/var/lib/xcom',
    })
    expect(parseObjectStorageUrl('file://localhost/srv/x')).toMatchObject({
      bucket: 'localhost',
      path: '/srv/x',
    })
    expect(parseObjectStorageUrl('local://.xcom/objects')).toMatchObject({
      scheme: 'file',
      protocol: 'local',
      bucket: '.xcom',
      path: '/objects',
    })
    expect(parseObjectStorageUrl('file:///tmp/my%20dir')).toMatchObject({ path: '/tmp/my dir' })
  })

  it('refuses malformed URLs with E_CONFIG and unknown schemes with E_UNKNOWN_SCHEME', () => {
    const codeOf = (url: string) => {
      try {
        parseObjectStorageUrl(url, 'XCOM_OBJECTSTORAGE_PATH')
        return 'ok'
      } catch (error) {
        expect((error as Error).message).toContain('XCOM_OBJECTSTORAGE_PATH')
        return (error as { code: string }).code
      }
    }
    expect(codeOf('my-bucket/prefix')).toBe('E_CONFIG')
    expect(codeOf('/tmp/dir')).toBe('E_CONFIG')
    expect(codeOf('s3:///prefix')).toBe('E_CONFIG')
    expect(codeOf('s3://b/a/../x')).toBe('E_CONFIG')
    expect(codeOf('ftp://host/x')).toBe('E_UNKNOWN_SCHEME')
    expect(codeOf('http://host/x')).toBe('E_UNKNOWN_SCHEME')
  })

  it('refuses credentials in the URL without echoing them', () => {
    try {
      parseObjectStorageUrl('s3://AKIAKEY:TOPSECRET@bucket/x')
      expect.unreachable()
    } catch (error) {
      expect((error as { code: string }).code).toBe('E_CONFIG')
      expect((error as Error).message).not.toContain('TOPSECRET')
      expect((error as Error).message).toContain('XCOM_CONN_')
    }
  })
})

describe('objectStoreFromUrl', () => {
  it('builds file:// and memory:// stores itself', async () => {
    const dir = tempDir()
    const file = await objectStoreFromUrl(pathToFileURL(dir).href)
    expect(file).toBeInstanceOf(FileObjectStore)
    expect((file as FileObjectStore).root).toBe(dir)
    const relative = await objectStoreFromUrl('file://some/relative/dir')
    expect((relative as FileObjectStore).root).toBe(resolve('some/relative/dir'))
    const memory = await objectStoreFromUrl('memory://bucket/prefix')
    expect(memory).toBeInstanceOf(MemoryObjectStore)
    expect(memory.url).toBe('memory://bucket/prefix')
  })

  it('names the package to install when an adapter scheme has none', async () => {
    const error = await expectXComError(
      objectStoreFromUrl('s3://bucket/x', { adapters: { s3: '@xcom/not-an-installed-adapter' } }),
      'E_UNKNOWN_SCHEME',
    )
    expect(error.message).toContain('npm install @xcom/not-an-installed-adapter')
    for (const [url, pkg, folder] of [
      ['s3://b/x', ADAPTER_PACKAGES.s3, 'xcom-s3'],
      ['gcs://b/x', ADAPTER_PACKAGES.gs, 'xcom-gcs'],
      ['az://c/x', ADAPTER_PACKAGES.abfs, 'xcom-azure'],
    ] as const) {
      // An adapter absent from the workspace must be named; a present one is reached (it builds a store, or refuses
      // for its own configuration reasons, e.g. no credentials), never reported as missing.
      const installed = existsSync(resolve(import.meta.dirname, '../..', folder, 'src/index.ts'))
      const outcome = await objectStoreFromUrl(url).then(
        () => undefined,
        (error: { code: string; message: string }) => error,
      )
      if (installed) {
        expect(outcome?.code, url).not.toBe('E_UNKNOWN_SCHEME')
      } else {
        expect(outcome?.code, url).toBe('E_UNKNOWN_SCHEME')
        expect(outcome?.message, url).toContain(`npm install ${pkg}`)
      }
    }
    expect(ADAPTER_PACKAGES).toEqual({ s3: '@xcom/s3', gs: '@xcom/gcs', abfs: '@xcom/azure' })
  })

  it("passes the parsed URL and the resolved connection to the adapter's objectStoreFactory", async () => {
    const connections = new EnvConnectionResolver({
      XCOM_CONN_MY_AWS: 'aws://KEY:SECRET@?region_name=eu-west-1',
    })
    const store = await objectStoreFromUrl('s3://my_aws@bucket/xcom', {
      connections,
      adapters: { s3: fixture('recording-adapter.ts') },
    })
    expect(store.url).toBe('memory://bucket/xcom')
    const call = calls.at(-1)
    expect(call?.url).toMatchObject({ scheme: 's3', connId: 'my_aws', bucket: 'bucket', prefix: 'xcom' })
    expect(call?.connection).toMatchObject({
      id: 'my_aws',
      connType: 'aws',
      login: 'KEY',
      password: 'SECRET',
      extra: { region_name: 'eu-west-1' },
    })
    await objectStoreFromUrl('gs://bucket', { adapters: { gs: fixture('recording-adapter.ts') } })
    expect(calls.at(-1)?.connection).toBeUndefined()
    const direct = await objectStoreFromUrl('az://c/p', {
      adapters: { abfs: (url) => new MemoryObjectStore({ bucket: url.bucket }) },
    })
    expect(direct.url).toBe('memory://c')
  })

  it('fails with E_CONFIG for an undefined connection or a module without objectStoreFactory', async () => {
    const missing = await expectXComError(
      objectStoreFromUrl('s3://nope@bucket', {
        connections: new EnvConnectionResolver({}),
        adapters: { s3: fixture('recording-adapter.ts') },
        source: 'XCOM_OBJECTSTORAGE_PATH',
      }),
      'E_CONFIG',
    )
    expect(missing.message).toContain('XCOM_CONN_NOPE')
    expect(missing.message).toContain('XCOM_OBJECTSTORAGE_PATH')
    // A hyphen cannot be exported by a shell: the hint names the variable a shell can set.
    const hyphen = await expectXComError(
      objectStoreFromUrl('s3://my-conn@bucket', {
        connections: new EnvConnectionResolver({}),
        adapters: { s3: fixture('recording-adapter.ts') },
      }),
      'E_CONFIG',
    )
    expect(hyphen.message).toContain("export XCOM_CONN_MY_CONN='<URI or JSON>'")
    const notAdapter = await expectXComError(
      objectStoreFromUrl('s3://bucket', { adapters: { s3: fixture('no-factory.ts') } }),
      'E_CONFIG',
    )
    expect(notAdapter.message).toContain('objectStoreFactory')
  })
})

describe('configuration from the environment', () => {
  it('builds the backend from XCOM_OBJECTSTORAGE_* variables', async () => {
    const dir = tempDir()
    const backend = await ObjectStoreXComBackend.fromEnv({
      XCOM_OBJECTSTORAGE_PATH: pathToFileURL(dir).href,
      XCOM_OBJECTSTORAGE_THRESHOLD: '1024',
      XCOM_OBJECTSTORAGE_COMPRESSION: 'none',
    })
    expect(backend).toBeInstanceOf(ObjectStoreXComBackend)
    expect(backend.threshold).toBe(1024)
    expect(backend.compression).toBeUndefined()
    expect(backend.checksum).toBe('crc32')
    expect((backend.store as FileObjectStore).root).toBe(dir)
    const pinned = await ObjectStoreXComBackend.fromEnv({
      XCOM_OBJECTSTORAGE_PATH: 'memory://pinned',
      XCOM_OBJECTSTORAGE_CHECKSUM: 'SHA256',
    })
    expect(pinned.checksum).toBe('sha256')
  })

  it("accepts Airflow's spellings and defaults the threshold to -1", async () => {
    const backend = await ObjectStoreXComBackend.fromEnv({
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: 'memory://airflow/xcom',
    })
    expect(backend.threshold).toBe(-1)
    expect(backend.store.url).toBe('memory://airflow/xcom')
    const zero = await ObjectStoreXComBackend.fromEnv({
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: 'memory://airflow',
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD: '0',
    })
    expect(zero.threshold).toBe(0)
  })

  it('fails with E_CONFIG naming the variable for a bad threshold or a missing path', async () => {
    for (const value of ['abc', '-2', '1.5', '1e3', '64k']) {
      const error = await expectXComError(
        ObjectStoreXComBackend.fromEnv({
          XCOM_OBJECTSTORAGE_PATH: 'memory://m',
          AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD: value,
        }),
        'E_CONFIG',
      )
      expect(error.message).toContain('AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD')
    }
    const checksum = await expectXComError(
      ObjectStoreXComBackend.fromEnv({
        XCOM_OBJECTSTORAGE_PATH: 'memory://m',
        XCOM_OBJECTSTORAGE_CHECKSUM: 'md5',
      }),
      'E_CONFIG',
    )
    expect(checksum.message).toContain('XCOM_OBJECTSTORAGE_CHECKSUM=md5')
    expect(checksum.message).toContain('crc32 or sha256')
    const error = await expectXComError(ObjectStoreXComBackend.fromEnv({}), 'E_CONFIG')
    expect(error.message).toContain('XCOM_OBJECTSTORAGE_PATH')
    await expectXComError(
      ObjectStoreXComBackend.fromEnv({ XCOM_OBJECTSTORAGE_PATH: 'ftp://x/y' }),
      'E_UNKNOWN_SCHEME',
    )
  })

  it('is what XCom.fromEnv uses when XCOM_OBJECTSTORAGE_PATH is set', async () => {
    const dir = tempDir()
    const xcom = await XCom.fromEnv({
      XCOM_METADATA_URL: 'memory://',
      XCOM_OBJECTSTORAGE_PATH: pathToFileURL(dir).href,
      XCOM_OBJECTSTORAGE_THRESHOLD: '0',
    })
    expect(xcom.backend.constructor.name).toBe('ObjectStoreXComBackend')
    const record = await xcom.push(ID, { hello: 'world' })
    expect(record.value.kind).toBe('reference')
    expect(objectFiles(dir)).toHaveLength(1)
    expect(await xcom.pull(ID)).toEqual({ hello: 'world' })
    await xcom.close()
  })

  it('builds subclasses through the inherited fromEnv', async () => {
    class AuditedBackend extends ObjectStoreXComBackend {
      readonly audited = true
    }
    const backend = await AuditedBackend.fromEnv({ XCOM_OBJECTSTORAGE_PATH: 'memory://sub' })
    expect(backend).toBeInstanceOf(AuditedBackend)
    expect(backend.audited).toBe(true)
  })

  it('validates constructor options with E_CONFIG', () => {
    const store = new MemoryObjectStore()
    const bad = [
      { store: undefined as never },
      { store, threshold: -2 },
      { store, threshold: 1.5 },
      { store, minCompressionRatio: -1 },
      { store, maxValueSize: -1 },
      { store, compression: {} as never },
      { store, checksum: 'md5' as never },
      { store, checksum: 'toString' as never },
    ]
    for (const options of bad)
      expect(() => new ObjectStoreXComBackend(options)).toThrowError(
        expect.objectContaining({ code: 'E_CONFIG' }),
      )
  })
})
