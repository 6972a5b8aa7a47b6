import { type Connection, type ObjectStoreFactory, XCom, XComError } from '@xcom/core'
import { objectStoreFromUrl, parseObjectStorageUrl } from '@xcom/objectstore'
import { expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { objectStoreFactory, S3ObjectStore } from '../src/index.ts'
import { LOCAL_BUCKET, type S3Target, targetOrSkip, useS3rver, utf8 } from './support.ts'

// The factory has the exact type @xcom/objectstore loads, @xcom/core's ObjectStoreFactory (checked by the typecheck).
const asLoaded: ObjectStoreFactory = objectStoreFactory

const resolver = (connections: Record<string, Connection>) => ({ get: async (id: string) => connections[id] })

describe('objectStoreFactory (no I/O)', () => {
  it('builds a store from the URL and the connection, without secrets in its url', async () => {
    const connection: Connection = {
      id: 'my_conn',
      connType: 'aws',
      login: 'AK',
      password: 'TOP-SECRET',
      extra: { region_name: 'eu-west-1' },
    }
    const store = await asLoaded(parseObjectStorageUrl('s3://my_conn@my-bucket/xcom/data'), connection)
    expect(store).toBeInstanceOf(S3ObjectStore)
    expect(store.url).toBe('s3://my_conn@my-bucket/xcom/data')
    expect(store.url).not.toContain('TOP-SECRET')
    expect((store as S3ObjectStore).prefix).toBe('xcom/data')
    expect(await (store as S3ObjectStore).client.config.region()).toBe('eu-west-1')
    await store.close?.()
  })

  it('serves s3a:// and s3n:// too, and lets URL parameters override the connection', async () => {
    const connection: Connection = { id: 'c', connType: 'aws', extra: { region_name: 'eu-west-1' } }
    const store = objectStoreFactory(
      parseObjectStorageUrl('s3a://c@bucket/p?region=us-west-2&part_size=10485760&conditional_create=false'),
      connection,
    )
    expect(store.url).toBe('s3://c@bucket/p')
    expect(await store.client.config.region()).toBe('us-west-2')
    expect(store.capabilities.conditionalCreate).toBe(false)
    expect(objectStoreFactory(parseObjectStorageUrl('s3n://bucket'), undefined).url).toBe('s3://bucket')
  })

  it('refuses unknown URL parameters and other schemes with E_CONFIG', () => {
    const unknown = () =>
      objectStoreFactory(parseObjectStorageUrl('s3://bucket/p?regoin=eu-west-1'), undefined)
    expect(unknown).toThrow(XComError)
    expect(unknown).toThrow(/unknown parameter "regoin"/)
    expect(() => objectStoreFactory(parseObjectStorageUrl('gs://bucket/p'), undefined)).toThrow(
      /cannot open gs:\/\//,
    )
    expect(() => objectStoreFactory(parseObjectStorageUrl('s3://bucket/p?part_size=1'), undefined)).toThrow(
      /part_size must be a whole number from 5242880/,
    )
  })

  it('passes connection errors on (role_arn is refused, not ignored)', async () => {
    const connection: Connection = { id: 'r', connType: 'aws', extra: { role_arn: 'arn:aws:iam::1:role/x' } }
    await expectXComError(
      objectStoreFromUrl('s3://r@bucket/p', { connections: resolver({ r: connection }) }),
      'E_CONFIG',
    )
  })
})

describe('s3:// URLs and XCom.fromEnv against s3rver', () => {
  const getTarget = useS3rver()
  /** The s3rver target of a test (skipped without one) and its endpoint. */
  const local = (ctx: { skip: () => void }): S3Target & { endpoint: string } => {
    const target = targetOrSkip(getTarget, ctx)
    if (!target.server) ctx.skip()
    return { ...target, endpoint: target.server?.endpoint ?? '' }
  }
  /** XCom.fromEnv with a memory metadata database and `env`. */
  const fromEnv = (env: Record<string, string>) => XCom.fromEnv({ XCOM_METADATA_URL: 'memory://', ...env })
  /** A store on the bucket under `prefix`, to look behind the backend's back. */
  const rawStore = (target: S3Target, prefix: string) => new S3ObjectStore({ ...target.options, prefix })

  it('objectStoreFromUrl loads @xcom/s3 and resolves the connection', async (ctx) => {
    const t = local(ctx)
    const connection: Connection = {
      id: 'local',
      connType: 'aws',
      login: 'S3RVER',
      password: 'S3RVER',
      extra: { endpoint_url: t.endpoint, config_kwargs: { s3: { addressing_style: 'path' } } },
    }
    const store = await objectStoreFromUrl(`s3://local@${LOCAL_BUCKET}/${t.options.prefix}/url`, {
      connections: resolver({ local: connection }),
    })
    expect(store).toBeInstanceOf(S3ObjectStore)
    await store.put('k', utf8('via url'))
    expect(new TextDecoder().decode(await (await store.get('k')).bytes())).toBe('via url')
    await store.close?.()
  })

  it('XCom.fromEnv with XCOM_OBJECTSTORAGE_PATH=s3://my_conn@bucket/prefix and an Airflow aws connection', async (ctx) => {
    const t = local(ctx)
    const prefix = `${t.options.prefix}/from-env`
    const xcom = await fromEnv({
      XCOM_OBJECTSTORAGE_PATH: `s3://my_conn@${LOCAL_BUCKET}/${prefix}`,
      XCOM_OBJECTSTORAGE_THRESHOLD: '100',
      XCOM_OBJECTSTORAGE_COMPRESSION: 'gzip',
      AIRFLOW_CONN_MY_CONN: JSON.stringify({
        conn_type: 'aws',
        login: 'S3RVER',
        password: 'S3RVER',
        extra: {
          region_name: 'us-east-1',
          endpoint_url: t.endpoint,
          config_kwargs: { s3: { addressing_style: 'path' } },
        },
      }),
    })
    const id = { dagId: 'etl', runId: 'r1', taskId: 'extract' }
    const value = { rows: Array.from({ length: 500 }, (_, index) => ({ index })) }
    const record = await xcom.push(id, value)
    expect(record.value.kind).toBe('reference')
    const ref = (record.value as unknown as { ref: { uri: string; objectKey: string; codec: string } }).ref
    expect(ref.uri.startsWith(`s3://my_conn@${LOCAL_BUCKET}/${prefix}/etl/r1/extract/-1/return_value/`)).toBe(
      true,
    )
    expect(ref.codec).toBe('gzip')
    expect(await xcom.pull(id)).toEqual(value)
    const raw = rawStore(t, prefix)
    expect((await raw.head(ref.objectKey))?.metadata.xcomcodec).toBe('gzip')
    await xcom.clear({ dagId: 'etl' })
    expect(await raw.head(ref.objectKey)).toBeUndefined()
    await raw.close()
    await xcom.close()
  })

  it('XCom.fromEnv with the URI form of the connection (aws://KEY:SECRET@/?endpoint_url=...)', async (ctx) => {
    const t = local(ctx)
    const xcom = await fromEnv({
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: `s3://uri_conn@${LOCAL_BUCKET}/${t.options.prefix}/uri-form`,
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD: '0',
      AIRFLOW_CONN_URI_CONN: `aws://S3RVER:S3RVER@/?region_name=us-east-1&endpoint_url=${encodeURIComponent(t.endpoint)}`,
    })
    const id = { dagId: 'etl', runId: 'r1', taskId: 'load' }
    expect((await xcom.push(id, 'hello')).value.kind).toBe('reference')
    expect(await xcom.pull(id)).toBe('hello')
    await xcom.close()
  })

  it('XCom.fromEnv fails with E_PERMISSION_DENIED on a push with wrong credentials, and stores nothing', async (ctx) => {
    const t = local(ctx)
    const xcom = await fromEnv({
      XCOM_OBJECTSTORAGE_PATH: `s3://bad_conn@${LOCAL_BUCKET}/${t.options.prefix}/denied`,
      XCOM_OBJECTSTORAGE_THRESHOLD: '0',
      XCOM_CONN_BAD_CONN: `s3://NOT-A-KEY:VERY-SECRET@?region=us-east-1&endpoint=${encodeURIComponent(t.endpoint)}&force_path_style=true`,
    })
    const id = { dagId: 'etl', runId: 'r1', taskId: 'denied' }
    const error = await expectXComError(xcom.push(id, 'v'), 'E_PERMISSION_DENIED')
    expect(error.message).not.toContain('VERY-SECRET')
    expect(await xcom.pull(id, { default: 'none' })).toBe('none')
    const raw = rawStore(t, `${t.options.prefix}/denied`)
    const left = []
    for await (const info of raw.list('')) left.push(info.objectKey)
    expect(left).toEqual([])
    await raw.close()
    await xcom.close()
  })
})
