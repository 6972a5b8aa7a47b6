import { XCom } from '@xcom/core'
import { parseObjectStorageUrl } from '@xcom/objectstore'
import { expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { objectStoreFactory, S3ObjectStore, type S3ObjectStoreOptions } from '../src/index.ts'

const configError = (run: () => unknown) => expectXComError(run, 'E_CONFIG')

const fromUrl = (query: string) =>
  objectStoreFactory(parseObjectStorageUrl(`s3://bucket/p?${query}`), undefined)

describe('S3ObjectStore option errors name the option, the value and the valid range', () => {
  const base = { bucket: 'xcom-test', region: 'us-east-1' }
  it.each([
    [
      { partSize: Number.NaN },
      'S3ObjectStore option partSize must be a whole number from 5242880 to 5368709120 bytes (5 MiB to 5 GiB); got NaN.',
    ],
    [
      { partSize: 1024 },
      'option partSize must be a whole number from 5242880 to 5368709120 bytes (5 MiB to 5 GiB); got 1024.',
    ],
    [{ queueSize: 0 }, 'option queueSize must be a whole number from 1 to 64; got 0.'],
    [{ readConcurrency: 1.5 }, 'option readConcurrency must be a whole number from 1 to 64; got 1.5.'],
    [{ maxSockets: 0 }, 'option maxSockets must be a whole number from 1 to 65536; got 0.'],
    [{ pageSize: 1001 }, 'option pageSize must be a whole number from 1 to 1000; got 1001.'],
    [{ deleteBatchSize: -1 }, 'option deleteBatchSize must be a whole number from 1 to 1000; got -1.'],
  ] as [Partial<S3ObjectStoreOptions>, string][])('%o', async (options, message) => {
    expect((await configError(() => new S3ObjectStore({ ...base, ...options }))).message).toContain(message)
  })
})

describe('s3:// URL parameter errors name the parameter, the value and the valid values', () => {
  it.each([
    [
      'part_size=abc',
      'The s3:// URL parameter part_size must be a whole number from 5242880 to 5368709120 bytes (5 MiB to 5 GiB); got "abc".',
    ],
    [
      'part_size=1',
      'parameter part_size must be a whole number from 5242880 to 5368709120 bytes (5 MiB to 5 GiB); got "1".',
    ],
    ['part_size=16MiB', 'parameter part_size must be a whole number from 5242880'],
    ['part_size=', 'parameter part_size must be a whole number from 5242880'],
    ['queue_size=-2', 'parameter queue_size must be a whole number from 1 to 64; got "-2".'],
    ['read_concurrency=1e2', 'parameter read_concurrency must be a whole number from 1 to 64; got "1e2".'],
    ['max_sockets=many', 'parameter max_sockets must be a whole number from 1 to 65536; got "many".'],
    [
      'force_path_style=maybe',
      'parameter force_path_style must be true or false (also 1/0, yes/no, on/off); got "maybe".',
    ],
    [
      'conditional_create=perhaps',
      'parameter conditional_create must be true or false (also 1/0, yes/no, on/off); got "perhaps".',
    ],
    ['endpoint=ftp%3A%2F%2Fhost', 'parameter endpoint must be an http:// or https:// URL'],
    ['region=', 'parameter region is empty'],
    [
      'regoin=eu-west-1',
      'unknown parameter "regoin": use region, endpoint, force_path_style, part_size, queue_size, read_concurrency, max_sockets, conditional_create.',
    ],
  ])('%s', async (query, message) => {
    expect((await configError(() => fromUrl(query))).message).toContain(message)
  })

  it('accepts the documented spellings', async () => {
    const store = fromUrl(
      'force_path_style=ON&conditional_create=no&part_size=%2010485760&queue_size=2&read_concurrency=3&max_sockets=256&region=eu-west-1',
    )
    expect(store.capabilities.conditionalCreate).toBe(false)
    expect(await store.client.config.forcePathStyle).toBe(true)
    expect(await store.client.config.region()).toBe('eu-west-1')
    const handler = store.client.config.requestHandler as unknown as {
      configProvider: Promise<{ httpsAgent: { maxSockets: number } }>
    }
    expect((await handler.configProvider).httpsAgent.maxSockets).toBe(256)
    await store.close()
  })

  it('reaches the user prefixed with the setting the URL came from', async () => {
    const error = await configError(() =>
      XCom.fromEnv({
        XCOM_METADATA_URL: 'memory://',
        XCOM_OBJECTSTORAGE_PATH: 's3://bucket/p?part_size=abc',
      }),
    )
    expect(error.message).toMatch(/^XCOM_OBJECTSTORAGE_PATH.*part_size.*"abc"/)
  })
})
