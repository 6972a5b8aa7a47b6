import { gzip } from '@xcom/compression'
import { MemoryMetadataStore, type StoredValue, XCom } from '@xcom/core'
import { toReadableStream } from '@xcom/core/adapter'
import { CLAIM_KEY, ObjectStoreXComBackend } from '@xcom/objectstore'
import { chunked, expectBytes, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/index.ts'
import {
  describeOnAws,
  MiB,
  type S3Target,
  targetOrSkip,
  unknownKeyStore,
  useS3rver,
  utf8,
} from './support.ts'

const ID = { dagId: 'etl', runId: 'run-1', taskId: 'extract' }

type Ref = { objectKey: string; uri: string; codec: string; size: number; storedSize: number }
const refOf = (value: StoredValue): Ref => {
  if (value.kind !== 'reference') throw new Error(`expected a reference, got ${value.kind}`)
  return value.ref as unknown as Ref
}

/** ObjectStoreXComBackend end-to-end on one S3 target. */
function backendTests(getTarget: () => S3Target | undefined) {
  const opened: XCom[] = []
  afterAll(async () => {
    await Promise.all(opened.map((xcom) => xcom.close()))
  })
  /** An XCom whose objects go to a fresh sub-prefix of the target, plus a raw store on the same prefix. */
  const setup = (
    backend: { threshold?: number; compression?: ReturnType<typeof gzip>; now?: () => Date } = {},
    store: Partial<S3ObjectStoreOptions> = {},
  ) => {
    const target = getTarget()
    if (!target) throw new Error('unreachable: tests are skipped without a target')
    const options = {
      ...target.options,
      prefix: `${target.options.prefix}/${crypto.randomUUID()}`,
      partSize: 5 * MiB,
      ...store,
    }
    const s3 = new S3ObjectStore(options)
    const raw = new S3ObjectStore(options)
    const metadata = new MemoryMetadataStore()
    const objects = new ObjectStoreXComBackend({ store: s3, threshold: 1024, ...backend })
    const xcom = new XCom({ metadata, backend: objects })
    opened.push(xcom)
    return { xcom, raw, metadata, backend: objects }
  }
  const skipWithout = (ctx: { skip: () => void }) => targetOrSkip(getTarget, ctx)

  it('keeps values up to the threshold inline and writes larger ones as self-describing objects', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const small = await xcom.push({ ...ID, key: 'small' }, { rows: [1, 2, 3] })
    expect(small.value.kind).toBe('inline')
    const rows = Array.from({ length: 200 }, (_, index) => ({ index, name: `row ${index}` }))
    const large = await xcom.push({ ...ID, key: 'large' }, rows)
    const ref = refOf(large.value)
    expect(ref.uri).toBe(`${raw.url}/${ref.objectKey}`)
    const info = await raw.head(ref.objectKey)
    expect(info?.size).toBe(ref.storedSize)
    expect(info?.metadata).toMatchObject({
      xcomdagid: 'etl',
      xcomrunid: 'run-1',
      xcomtaskid: 'extract',
      xcomkey: 'large',
      xcomformat: 'json',
    })
    const listed = []
    for await (const object of raw.list('')) listed.push(object.objectKey)
    // Besides the value: the claim that ties the prefix to this metadata database.
    expect(listed.sort()).toEqual([ref.objectKey, CLAIM_KEY].sort())
    expect(await xcom.pull({ ...ID, key: 'small' })).toEqual({ rows: [1, 2, 3] })
    expect(await xcom.pull({ ...ID, key: 'large' })).toEqual(rows)
  })

  it('compresses with gzip when it pays, and reads the .gz object back', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup({ compression: gzip() })
    const text = 'the same line again and again\n'.repeat(10_000)
    const record = await xcom.push(ID, text)
    const ref = refOf(record.value)
    expect(ref.codec).toBe('gzip')
    expect(ref.objectKey.endsWith('.json.gz')).toBe(true)
    expect(ref.storedSize).toBeLessThan(ref.size / 10)
    expect((await raw.head(ref.objectKey))?.size).toBe(ref.storedSize)
    expect(await xcom.pull(ID)).toBe(text)
  })

  it('purges the replaced object on push and the cleared objects on clear', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const first = refOf((await xcom.push(ID, 'a'.repeat(5000))).value)
    const second = refOf((await xcom.push(ID, 'b'.repeat(5000))).value)
    expect(await raw.head(first.objectKey)).toBeUndefined()
    expect((await raw.head(second.objectKey))?.size).toBe(second.storedSize)
    const other = refOf((await xcom.push({ ...ID, taskId: 'load' }, 'c'.repeat(5000))).value)
    expect(await xcom.clear({ dagId: 'etl', runId: 'run-1', taskId: 'extract' })).toEqual({
      deleted: 1,
      purged: 1,
      failedPurges: 0,
    })
    expect(await raw.head(second.objectKey)).toBeUndefined()
    expect((await raw.head(other.objectKey))?.size).toBe(other.storedSize)
    expect(await xcom.pull({ ...ID, taskId: 'load' })).toBe('c'.repeat(5000))
  })

  it('gc() deletes an orphan object of this database older than the grace period, and nothing else', async (ctx) => {
    skipWithout(ctx)
    // The backend's clock runs 10 minutes ahead, so objects just written count as old (and clock skew cannot matter).
    const { xcom, raw, metadata, backend } = setup({ now: () => new Date(Date.now() + 600_000) })
    const kept = refOf((await xcom.push(ID, 'k'.repeat(5000))).value)
    // What a crash between upload and row write leaves: an object of this database that no row references.
    const orphan = refOf(
      await backend.serializeValue('o'.repeat(5000), {
        ...ID,
        mapIndex: -1,
        key: 'return_value',
        recordId: 'crashed-push',
        database: await metadata.identity(),
      }),
    )
    // An object of the backend's layout naming no database (S3 lists no metadata: the sweep has to head it).
    const foreign = 'etl/run-0/extract/-1/return_value/0123456789abcdef0123456789abcdef.json'
    await raw.put(foreign, utf8('"foreign"'))
    await raw.put('not-xcom/readme.txt', utf8('left alone'))
    const report = await xcom.gc({ graceMs: 60_000 })
    // s3rver has no ListMultipartUploads: removeIncomplete finds nothing there (and warns once).
    expect(report.sweep).toEqual({ scanned: 3, deleted: 1, failed: [], foreign: 1, incomplete: 0 })
    expect(await raw.head(orphan.objectKey)).toBeUndefined()
    expect((await raw.head(kept.objectKey))?.size).toBe(kept.storedSize)
    expect((await raw.head(foreign))?.size).toBe(9)
    expect((await raw.head('not-xcom/readme.txt'))?.size).toBe(10)
    expect(await xcom.pull(ID)).toBe('k'.repeat(5000))
  })

  it('fails with E_CORRUPT when the object behind a reference was overwritten', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const ref = refOf((await xcom.push(ID, 'v'.repeat(5000))).value)
    const sameSize = utf8(`"${'w'.repeat(5000)}"`)
    expect(sameSize.byteLength).toBe(ref.storedSize)
    await raw.put(ref.objectKey, sameSize)
    const error = await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    expect(error.message).toContain(ref.uri)
    await raw.put(ref.objectKey, utf8('"short"'))
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    // The row is still there: nothing was lost by reading.
    expect((await xcom.metadata.get({ ...ID, mapIndex: -1, key: 'return_value' }))?.value.kind).toBe(
      'reference',
    )
  })

  it('fails with E_NOT_FOUND naming the URI when the object is missing', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const ref = refOf((await xcom.push(ID, 'm'.repeat(5000))).value)
    expect(await raw.deleteMany([ref.objectKey])).toEqual({ failed: [] })
    const error = await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
    expect(error.message).toContain(ref.uri)
    await expectXComError(xcom.pullStream(ID), 'E_NOT_FOUND')
  })

  it('streams a 12 MiB value across the multipart boundary (5 MiB parts), in and out', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const data = randomBytes(12 * MiB, 3)
    const record = await xcom.push({ ...ID, key: 'blob' }, toReadableStream(chunked(data, 1_000_003)))
    const ref = refOf(record.value)
    expect(ref.size).toBe(data.byteLength)
    expect((await raw.head(ref.objectKey))?.size).toBe(data.byteLength)
    expectBytes(await readAll(await xcom.pullStream({ ...ID, key: 'blob' })), data)
    expectBytes(await xcom.pull({ ...ID, key: 'blob' }), data)
    const again = await xcom.push({ ...ID, key: 'buffer' }, data)
    expect((await xcom.pull({ ...ID, key: 'buffer' })) as Uint8Array).toEqual(data)
    expect(refOf(again.value).storedSize).toBe(data.byteLength)
  })

  it('a push that S3 refuses leaves no row and no object', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup({}, { bucket: `xcom-missing-${Date.now()}` })
    const error = await expectXComError(xcom.push(ID, 'x'.repeat(5000)), 'E_NOT_FOUND')
    expect(error.message).toContain('does not exist')
    expect(await xcom.pull(ID, { default: 'none' })).toBe('none')
    await raw.close()
  })
}

describe('ObjectStoreXComBackend on s3rver', () => {
  const getTarget = useS3rver()
  backendTests(getTarget)

  it('wrong credentials: push fails with E_PERMISSION_DENIED and writes nothing', async (ctx) => {
    const bad = unknownKeyStore(targetOrSkip(getTarget, ctx), 'SECRET-XYZ')
    const xcom = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store: bad, threshold: 0 }),
    })
    const error = await expectXComError(xcom.push(ID, 'value'), 'E_PERMISSION_DENIED')
    expect(error.message).not.toContain('SECRET-XYZ')
    expect(await xcom.pull(ID, { default: 'nothing' })).toBe('nothing')
    await xcom.close()
  })
})

describeOnAws('ObjectStoreXComBackend', (aws) => backendTests(() => aws))
