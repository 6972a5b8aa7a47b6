import { gzip } from '@xcom/compression'
import { MemoryMetadataStore, type StoredValue, XCom, XComError } from '@xcom/core'
import { CLAIM_KEY, ObjectStoreXComBackend } from '@xcom/objectstore'
import { afterAll, describe, expect, it } from 'vitest'
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/index.ts'
import { awsTarget, chunkedStream, emptyPrefix, patternBytes, type S3Target, useS3rver } from './support.ts'

const MiB = 1024 * 1024
const ID = { dagId: 'etl', runId: 'run-1', taskId: 'extract' }

type Ref = { key: string; uri: string; codec: string; size: number; storedSize: number }
const refOf = (value: StoredValue): Ref => {
  if (value.kind !== 'reference') throw new Error(`expected a reference, got ${value.kind}`)
  return value.ref as unknown as Ref
}

async function rejection(promise: Promise<unknown>): Promise<XComError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!XComError.is(error)) throw new Error(`expected an XComError, got ${String(error)}`)
  return error
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
  const skipWithout = (ctx: { skip: () => void }) => {
    if (!getTarget()) ctx.skip()
  }

  it('keeps values up to the threshold inline and writes larger ones as self-describing objects', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const small = await xcom.push({ ...ID, key: 'small' }, { rows: [1, 2, 3] })
    expect(small.value.kind).toBe('inline')
    const rows = Array.from({ length: 200 }, (_, index) => ({ index, name: `row ${index}` }))
    const large = await xcom.push({ ...ID, key: 'large' }, rows)
    const ref = refOf(large.value)
    expect(ref.uri).toBe(`${raw.url}/${ref.key}`)
    const info = await raw.head(ref.key)
    expect(info?.size).toBe(ref.storedSize)
    expect(info?.metadata).toMatchObject({
      xcomdagid: 'etl',
      xcomrunid: 'run-1',
      xcomtaskid: 'extract',
      xcomkey: 'large',
      xcomformat: 'json',
    })
    const listed = []
    for await (const object of raw.list('')) listed.push(object.key)
    // Besides the value: the claim that ties the prefix to this metadata database.
    expect(listed.sort()).toEqual([ref.key, CLAIM_KEY].sort())
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
    expect(ref.key.endsWith('.json.gz')).toBe(true)
    expect(ref.storedSize).toBeLessThan(ref.size / 10)
    expect((await raw.head(ref.key))?.size).toBe(ref.storedSize)
    expect(await xcom.pull(ID)).toBe(text)
  })

  it('purges the replaced object on push and the cleared objects on clear', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const first = refOf((await xcom.push(ID, 'a'.repeat(5000))).value)
    const second = refOf((await xcom.push(ID, 'b'.repeat(5000))).value)
    expect(await raw.head(first.key)).toBeUndefined()
    expect((await raw.head(second.key))?.size).toBe(second.storedSize)
    const other = refOf((await xcom.push({ ...ID, taskId: 'load' }, 'c'.repeat(5000))).value)
    expect(await xcom.clear({ dagId: 'etl', runId: 'run-1', taskId: 'extract' })).toEqual({
      deleted: 1,
      purged: 1,
      failedPurges: 0,
    })
    expect(await raw.head(second.key)).toBeUndefined()
    expect((await raw.head(other.key))?.size).toBe(other.storedSize)
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
    await raw.put(foreign, new TextEncoder().encode('"foreign"'))
    await raw.put('not-xcom/readme.txt', new TextEncoder().encode('left alone'))
    const report = await xcom.gc({ graceMs: 60_000 })
    // s3rver has no ListMultipartUploads: removeIncomplete finds nothing there (and warns once).
    expect(report.sweep).toEqual({ scanned: 3, deleted: 1, failed: [], foreign: 1, incomplete: 0 })
    expect(await raw.head(orphan.key)).toBeUndefined()
    expect((await raw.head(kept.key))?.size).toBe(kept.storedSize)
    expect((await raw.head(foreign))?.size).toBe(9)
    expect((await raw.head('not-xcom/readme.txt'))?.size).toBe(10)
    expect(await xcom.pull(ID)).toBe('k'.repeat(5000))
  })

  it('fails with E_CORRUPT when the object behind a reference was overwritten', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const ref = refOf((await xcom.push(ID, 'v'.repeat(5000))).value)
    const sameSize = new TextEncoder().encode(`"${'w'.repeat(5000)}"`)
    expect(sameSize.byteLength).toBe(ref.storedSize)
    await raw.put(ref.key, sameSize)
    const error = await rejection(xcom.pull(ID))
    expect(error.code).toBe('E_CORRUPT')
    expect(error.message).toContain(ref.uri)
    await raw.put(ref.key, new TextEncoder().encode('"short"'))
    expect((await rejection(xcom.pull(ID))).code).toBe('E_CORRUPT')
    // The row is still there: nothing was lost by reading.
    expect((await xcom.metadata.get({ ...ID, mapIndex: -1, key: 'return_value' }))?.value.kind).toBe(
      'reference',
    )
  })

  it('fails with E_NOT_FOUND naming the URI when the object is missing', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const ref = refOf((await xcom.push(ID, 'm'.repeat(5000))).value)
    expect(await raw.deleteMany([ref.key])).toEqual({ failed: [] })
    const error = await rejection(xcom.pull(ID))
    expect(error.code).toBe('E_NOT_FOUND')
    expect(error.message).toContain(ref.uri)
    expect((await rejection(xcom.pullStream(ID))).code).toBe('E_NOT_FOUND')
  })

  it('streams a 12 MiB value across the multipart boundary (5 MiB parts), in and out', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup()
    const data = patternBytes(12 * MiB, 3)
    const record = await xcom.push({ ...ID, key: 'blob' }, chunkedStream(data, 1_000_003))
    const ref = refOf(record.value)
    expect(ref.size).toBe(data.byteLength)
    expect((await raw.head(ref.key))?.size).toBe(data.byteLength)
    const stream = await xcom.pullStream({ ...ID, key: 'blob' })
    const back = new Uint8Array(await new Response(stream).arrayBuffer())
    expect(Buffer.compare(Buffer.from(back), Buffer.from(data))).toBe(0)
    const bytes = (await xcom.pull({ ...ID, key: 'blob' })) as Uint8Array
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(data))).toBe(0)
    const again = await xcom.push({ ...ID, key: 'buffer' }, data)
    expect((await xcom.pull({ ...ID, key: 'buffer' })) as Uint8Array).toEqual(data)
    expect(refOf(again.value).storedSize).toBe(data.byteLength)
  })

  it('a push that S3 refuses leaves no row and no object', async (ctx) => {
    skipWithout(ctx)
    const { xcom, raw } = setup({}, { bucket: `xcom-missing-${Date.now()}` })
    const error = await rejection(xcom.push(ID, 'x'.repeat(5000)))
    expect(error.code).toBe('E_NOT_FOUND')
    expect(error.message).toContain('does not exist')
    expect(await xcom.pull(ID, { default: 'none' })).toBe('none')
    await raw.close()
  })
}

describe('ObjectStoreXComBackend on s3rver', () => {
  const target = useS3rver()
  backendTests(target)

  it('wrong credentials: push fails with E_PERMISSION_DENIED and writes nothing', async (ctx) => {
    const t = target()
    if (!t) return ctx.skip()
    const bad = new S3ObjectStore({
      ...t.options,
      credentials: { accessKeyId: 'UNKNOWN', secretAccessKey: 'SECRET-XYZ' },
    })
    const xcom = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store: bad, threshold: 0 }),
    })
    const error = await rejection(xcom.push(ID, 'value'))
    expect(error.code).toBe('E_PERMISSION_DENIED')
    expect(error.message).not.toContain('SECRET-XYZ')
    expect(await xcom.pull(ID, { default: 'nothing' })).toBe('nothing')
    await xcom.close()
  })
})

const aws = awsTarget()
if (!aws)
  console.warn(
    'ObjectStoreXComBackend real-AWS tests skipped: set XCOM_TEST_S3_BUCKET (and AWS_REGION plus AWS credentials) to run them.',
  )
describe.skipIf(!aws)('ObjectStoreXComBackend on AWS S3 (XCOM_TEST_S3_BUCKET)', () => {
  afterAll(async () => {
    if (aws) await emptyPrefix(aws)
  })
  backendTests(() => aws)
})
