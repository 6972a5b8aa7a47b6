import { randomUUID } from 'node:crypto'
import { gzip } from '@xcom/compression'
import { MemoryMetadataStore, type ObjectInfo, XCom } from '@xcom/core'
import { CLAIM_KEY, DATABASE_META, ObjectStoreXComBackend } from '@xcom/objectstore'
import { expectBytes, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import type { GcsObjectStore, GcsObjectStoreOptions } from '../src/index.ts'
import { explainRealSkip, type GcsTarget, realTarget, storeOn, useLocalTarget } from './targets.ts'

/** The value objects of a store (the prefix's database claim left out). */
async function objects(store: GcsObjectStore): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = []
  for await (const info of store.list('')) if (info.objectKey !== CLAIM_KEY) found.push(info)
  return found
}

function setup(
  target: GcsTarget,
  threshold: number,
  extra: Partial<GcsObjectStoreOptions> = {},
  compress = false,
) {
  const store = storeOn(target, extra)
  const metadata = new MemoryMetadataStore()
  const xcom = new XCom({
    metadata,
    backend: new ObjectStoreXComBackend({ store, threshold, ...(compress ? { compression: gzip() } : {}) }),
  })
  return { store, xcom, metadata }
}

function suite(getTarget: () => GcsTarget | undefined) {
  const id = (key = 'return_value') => ({
    dagId: 'etl',
    runId: `run-${randomUUID()}`,
    taskId: 'extract',
    key,
  })

  it('keeps values up to the threshold inline and sends larger ones to GCS with their identity in the metadata', async () => {
    const { store, xcom } = setup(getTarget()!, 100)
    const small = id()
    await xcom.push(small, { rows: [1, 2] })
    expect(await objects(store)).toEqual([])
    const large = { ...id(), key: 'big' }
    const value = { rows: Array.from({ length: 200 }, (_, index) => `row-${index}`) }
    await xcom.push(large, value)
    const stored = await objects(store)
    expect(stored).toHaveLength(1)
    expect(stored[0]?.objectKey.startsWith(`etl/${large.runId}/extract/-1/big/`)).toBe(true)
    expect(stored[0]?.metadata).toMatchObject({
      xcomdagid: 'etl',
      xcomtaskid: 'extract',
      xcomkey: 'big',
      xcomformat: 'json',
    })
    expect(await xcom.pull(small)).toEqual({ rows: [1, 2] })
    expect(await xcom.pull(large)).toEqual(value)
  })

  it('compresses with gzip, and pulls the value back', async () => {
    const { store, xcom } = setup(getTarget()!, 0, {}, true)
    const identity = id()
    const value = { text: 'abc'.repeat(50_000) }
    await xcom.push(identity, value)
    const [object] = await objects(store)
    expect(object?.objectKey.endsWith('.json.gz')).toBe(true)
    expect(object?.size).toBeLessThan(JSON.stringify(value).length / 10)
    expect(object?.metadata.xcomcodec).toBe('gzip')
    expect(await xcom.pull(identity)).toEqual(value)
  })

  it('purges the replaced object on push and every object on clear', async () => {
    const { store, xcom } = setup(getTarget()!, 0)
    const identity = id()
    await xcom.push(identity, 'first value')
    const [first] = await objects(store)
    await xcom.push(identity, 'second value')
    const after = await objects(store)
    expect(after).toHaveLength(1)
    expect(after[0]?.objectKey).not.toBe(first?.objectKey)
    expect(await xcom.pull(identity)).toBe('second value')
    await xcom.push({ ...identity, key: 'other' }, 'x'.repeat(10))
    expect(await objects(store)).toHaveLength(2)
    const report = await xcom.clear({ dagId: identity.dagId, runId: identity.runId })
    expect(report).toMatchObject({ deleted: 2, purged: 2, failedPurges: 0 })
    expect(await objects(store)).toEqual([])
  })

  it("gc deletes an orphan object of its database and keeps referenced ones, another database's and others", async () => {
    const { store, xcom, metadata } = setup(getTarget()!, 0)
    const identity = id()
    await xcom.push(identity, 'kept')
    const database = await metadata.identity()
    const orphan = `etl/${identity.runId}/extract/-1/orphan/${randomUUID()}.json`
    const otherDatabase = `etl/${identity.runId}/extract/-1/orphan/${randomUUID()}.json`
    const unrelated = 'not-an-xcom-object.txt'
    const bytes = new TextEncoder().encode('"lost"')
    await store.put(orphan, bytes, { metadata: { [DATABASE_META]: database.id } })
    await store.put(otherDatabase, bytes, { metadata: { [DATABASE_META]: 'another-database' } })
    await store.put(unrelated, new TextEncoder().encode('keep me'))
    const report = await xcom.gc({ graceMs: 0 })
    // GCS cannot list the leftovers of interrupted uploads: the store has no removeIncomplete.
    expect('removeIncomplete' in store).toBe(false)
    expect(report.sweep).toMatchObject({ deleted: 1, failed: [], foreign: 1 })
    expect(report.sweep?.incomplete).toBeUndefined()
    const left = (await objects(store)).map((info) => info.objectKey)
    expect(left).not.toContain(orphan)
    expect(left).toContain(otherDatabase)
    expect(left).toContain(unrelated)
    expect(left).toHaveLength(3)
    expect(await xcom.pull(identity)).toBe('kept')
  })

  it('streams a binary value in and out (pullStream)', async () => {
    const { xcom } = setup(getTarget()!, 0)
    const identity = id()
    const bytes = randomBytes(300_000)
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 1000))
        controller.enqueue(bytes.subarray(1000))
        controller.close()
      },
    })
    await xcom.push(identity, source)
    expect(await readAll(await xcom.pullStream(identity))).toEqual(bytes)
    expect(await xcom.pull(identity)).toEqual(bytes)
  })

  it('fails with E_NOT_FOUND naming the URI when the object is gone, and keeps the row', async () => {
    const { store, xcom, metadata } = setup(getTarget()!, 0)
    const identity = id()
    await xcom.push(identity, 'soon gone')
    const [object] = await objects(store)
    await store.deleteMany([object!.objectKey])
    const error = await expectXComError(xcom.pull(identity), 'E_NOT_FOUND')
    expect(error.message).toContain(store.uriOf(object!.objectKey))
    expect(await metadata.get({ ...identity, mapIndex: -1 })).toBeDefined()
  })
}

const local = useLocalTarget()

describe('ObjectStoreXComBackend on GcsObjectStore (test server)', () => {
  suite(local)

  it('fails with E_CORRUPT when the stored bytes were damaged, on pull and on pullStream', async () => {
    const target = local()
    const { store, xcom, metadata } = setup(target, 0)
    const identity = id()
    await xcom.push(identity, randomBytes(50_000))
    const [object] = await objects(store)
    target.server!.corruptObject(target.bucket, store.objectName(object!.objectKey))
    await expectXComError(xcom.pull(identity), 'E_CORRUPT')
    await expectXComError(readAll(await xcom.pullStream(identity)), 'E_CORRUPT')
    expect(await metadata.get({ ...identity, mapIndex: -1 })).toBeDefined()
    expect(await objects(store)).toHaveLength(1)
  })

  it('pushes and pulls a 12 MiB value through 8 MiB resumable chunks (308s), surviving a 503 on a chunk', async () => {
    const target = local()
    const { xcom } = setup(target, 0, { chunkSize: 8 * 1024 * 1024 })
    const identity = id()
    const bytes = randomBytes(12 * 1024 * 1024 + 3)
    // Only a chunked upload can resend a failed PUT (the SDK keeps the chunk): success proves chunks were used.
    const fault = target.server!.failNext({ method: 'PUT', pathIncludes: 'upload_id=', status: 503 })
    await xcom.push(identity, bytes)
    expect(fault.hits).toBe(1)
    expectBytes(await xcom.pull<Uint8Array>(identity), bytes)
    expectBytes(await readAll(await xcom.pullStream(identity)), bytes)
  })

  it('builds the same stack from the environment (XCom.fromEnv, AIRFLOW_CONN_ in the google-cloud-platform form)', async () => {
    const target = local()
    const prefix = `env-${randomUUID()}`
    const uri = `google-cloud-platform://?project=${target.server!.projectId}&endpoint=${encodeURIComponent(target.server!.apiEndpoint)}`
    const xcom = await XCom.fromEnv({
      XCOM_METADATA_URL: 'memory://',
      XCOM_OBJECTSTORAGE_PATH: `gs://my_conn@${target.bucket}/${prefix}`,
      XCOM_OBJECTSTORAGE_THRESHOLD: '10',
      XCOM_OBJECTSTORAGE_COMPRESSION: 'gzip',
      AIRFLOW_CONN_MY_CONN: uri,
    })
    const backend = xcom.backend as ObjectStoreXComBackend
    expect(backend.store.url).toBe(`gs://my_conn@${target.bucket}/${prefix}`)
    const identity = id()
    await xcom.push(identity, { long: 'y'.repeat(1000) })
    expect(await xcom.pull(identity)).toEqual({ long: 'y'.repeat(1000) })
    const store = backend.store as GcsObjectStore
    const [object] = await objects(store)
    expect(object?.objectKey.endsWith('.json.gz')).toBe(true)
    expect(target.server!.readObject(target.bucket, `${prefix}/${object!.objectKey}`)).toBeDefined()
    await xcom.close()
  })

  it('reads the JSON connection form with the gcsfs gcs.endpoint extra too', async () => {
    const target = local()
    const xcom = await XCom.fromEnv({
      XCOM_METADATA_URL: 'memory://',
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: `gcs://json_conn@${target.bucket}/json-${randomUUID()}`,
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD: '0',
      AIRFLOW_CONN_JSON_CONN: JSON.stringify({
        conn_type: 'google_cloud_platform',
        extra: { project: target.server!.projectId, 'gcs.endpoint': target.server!.apiEndpoint },
      }),
    })
    const identity = id()
    await xcom.push(identity, [1, 2, 3])
    expect(await xcom.pull(identity)).toEqual([1, 2, 3])
    expect((xcom.backend as ObjectStoreXComBackend).store.url.startsWith('gcs://json_conn@')).toBe(true)
    await xcom.close()
  })
})

const real = realTarget()
describe.runIf(real)(
  `ObjectStoreXComBackend on GcsObjectStore (${real?.name ?? 'real GCS: set XCOM_TEST_GCS_BUCKET'})`,
  () => {
    suite(() => real)
  },
)
if (!real) explainRealSkip()

function id(key = 'return_value') {
  return { dagId: 'etl', runId: `run-${randomUUID()}`, taskId: 'extract', key }
}
