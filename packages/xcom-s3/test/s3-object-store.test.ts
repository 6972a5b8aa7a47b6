import { S3Client } from '@aws-sdk/client-s3'
import { XComError } from '@xcom/core'
import { afterAll, describe, expect, it } from 'vitest'
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/index.ts'
import { awsTarget, chunkedStream, emptyPrefix, patternBytes, type S3Target, useS3rver } from './support.ts'

const MiB = 1024 * 1024
const text = (value: string) => new TextEncoder().encode(value)

/** Store behaviour beyond the conformance suite, run against one target. */
function storeTests(getTarget: () => S3Target | undefined) {
  const stores: S3ObjectStore[] = []
  const open = (extra: Partial<S3ObjectStoreOptions> = {}) => {
    const target = getTarget()
    if (!target) throw new Error('unreachable: tests are skipped without a target')
    const store = new S3ObjectStore({ ...target.options, ...extra })
    stores.push(store)
    return store
  }
  const needTarget = (ctx: { skip: () => void }) => {
    if (!getTarget()) ctx.skip()
  }
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
  })

  it('crosses the multipart boundary: 12 MiB bytes and 12 MiB streams with 5 MiB parts', async (ctx) => {
    needTarget(ctx)
    const store = open({ partSize: 5 * MiB, queueSize: 2 })
    const data = patternBytes(12 * MiB)
    const progress: number[] = []
    expect(
      await store.put('multi/bytes', data, {
        metadata: { 'xcom-kind': 'bytes' },
        onProgress: (n) => progress.push(n),
      }),
    ).toEqual({
      size: data.byteLength,
    })
    expect(progress.at(-1)).toBe(data.byteLength)
    expect(await store.put('multi/stream', chunkedStream(data, 777_777))).toEqual({ size: data.byteLength })
    const iterable = (async function* () {
      for (let offset = 0; offset < data.byteLength; offset += MiB) yield data.subarray(offset, offset + MiB)
    })()
    expect(await store.put('multi/iterable', iterable)).toEqual({ size: data.byteLength })
    for (const key of ['multi/bytes', 'multi/stream', 'multi/iterable']) {
      const body = await store.get(key)
      expect(body.size).toBe(data.byteLength)
      expect(Buffer.compare(Buffer.from(await body.bytes()), Buffer.from(data))).toBe(0)
    }
    expect((await store.head('multi/bytes'))?.metadata).toEqual({ 'xcom-kind': 'bytes' })
    const slice = await store.get('multi/stream', { range: { start: 5 * MiB - 3, end: 5 * MiB + 2 } })
    expect(Array.from(await slice.bytes())).toEqual(Array.from(data.subarray(5 * MiB - 3, 5 * MiB + 3)))
    expect(slice.size).toBe(data.byteLength)
  })

  it('reads large objects in parallel ranged parts, with the same bytes as one GET', async (ctx) => {
    needTarget(ctx)
    const data = patternBytes(17 * MiB + 5, 9)
    const parallel = open({ partSize: 5 * MiB, readConcurrency: 3 })
    const single = open({ partSize: 5 * MiB, readConcurrency: 1 })
    await parallel.put('parallel/k', data, { metadata: { 'xcom-part': 'yes' } })
    const body = await parallel.get('parallel/k')
    expect(body.size).toBe(data.byteLength)
    expect(body.metadata).toEqual({ 'xcom-part': 'yes' })
    expect(Buffer.compare(Buffer.from(await body.bytes()), Buffer.from(data))).toBe(0)
    const streamed = new Uint8Array(
      await new Response((await parallel.get('parallel/k')).stream()).arrayBuffer(),
    )
    expect(Buffer.compare(Buffer.from(streamed), Buffer.from(data))).toBe(0)
    const one = await (await single.get('parallel/k')).bytes()
    expect(Buffer.compare(Buffer.from(one), Buffer.from(data))).toBe(0)
    // Cancelling after the first part stops the reads; the store keeps working.
    const reader = (await parallel.get('parallel/k')).stream().getReader()
    expect((await reader.read()).value?.byteLength).toBe(5 * MiB)
    await reader.cancel()
    expect((await parallel.head('parallel/k'))?.size).toBe(data.byteLength)
  })

  it('an object replaced while it is read in parts fails with E_BACKEND, never with mixed bytes', async (ctx) => {
    needTarget(ctx)
    const store = open({ partSize: 5 * MiB, readConcurrency: 2 })
    await store.put('replaced/k', patternBytes(12 * MiB, 1))
    for (const read of ['bytes', 'stream'] as const) {
      const body = await store.get('replaced/k')
      await store.put('replaced/k', patternBytes(6 * MiB, 2))
      const reading = read === 'bytes' ? body.bytes() : new Response(body.stream()).arrayBuffer()
      const error = await reading.catch((e: unknown) => e)
      expect(XComError.is(error, 'E_BACKEND'), String(error)).toBe(true)
      expect((error as Error).message).toContain('changed while it was being read')
      await store.put('replaced/k', patternBytes(12 * MiB, 1))
    }
  })

  it('a small stream goes up in one request and reads back as a web stream', async (ctx) => {
    needTarget(ctx)
    const store = open()
    expect(
      await store.put('small/stream', chunkedStream(text('hello, s3'), 4), { contentType: 'text/plain' }),
    ).toEqual({ size: 9 })
    const body = await store.get('small/stream')
    expect(await new Response(body.stream()).text()).toBe('hello, s3')
    expect(await store.put('small/empty', new Uint8Array(0))).toEqual({ size: 0 })
    expect((await (await store.get('small/empty')).bytes()).byteLength).toBe(0)
  })

  it('lists page by page, strips the prefix, and stays inside its prefix', async (ctx) => {
    needTarget(ctx)
    const target = getTarget() as S3Target
    const store = open({ pageSize: 2, prefix: `${target.options.prefix}/paged` })
    const sibling = open({ prefix: `${target.options.prefix}/paged-sibling` })
    await sibling.put('x', text('not mine'))
    // No segment is a prefix of a sibling's (s3rver walks directories, so such keys come out of byte order across pages).
    const keys = ['a/1', 'a/2', 'a/3', 'b/1', 'c%2F/2']
    for (const key of keys) await store.put(key, text(key), { metadata: { 'xcom-key': 'v' } })
    const listed = []
    for await (const info of store.list('')) listed.push(info)
    expect(listed.map((info) => info.key).sort()).toEqual([...keys].sort())
    // ListObjectsV2 carries no user metadata: listings leave it empty, head() and get() return it.
    expect(listed.every((info) => info.metadata && Object.keys(info.metadata).length === 0)).toBe(true)
    expect((await store.head('a/2'))?.metadata).toEqual({ 'xcom-key': 'v' })
    expect((await store.get('a/2')).metadata).toEqual({ 'xcom-key': 'v' })
    expect(listed.find((info) => info.key === 'a/2')?.size).toBe(3)
    const onlyA = []
    for await (const info of store.list('a/')) onlyA.push(info.key)
    expect(onlyA).toEqual(['a/1', 'a/2', 'a/3'])
    const withMetadata = open({ pageSize: 2, prefix: `${target.options.prefix}/paged`, listMetadata: true })
    for await (const info of withMetadata.list('b')) expect(info.metadata).toEqual({ 'xcom-key': 'v' })
  })

  it('deletes in batches; missing keys are not failures', async (ctx) => {
    needTarget(ctx)
    const store = open({ deleteBatchSize: 2 })
    const keys = ['del/1', 'del/2', 'del/3', 'del/4', 'del/5']
    for (const key of keys) await store.put(key, text(key))
    expect(await store.deleteMany([...keys, 'del/missing', 'del/1'])).toEqual({ failed: [] })
    for (const key of keys) expect(await store.head(key)).toBeUndefined()
    expect(await store.deleteMany([])).toEqual({ failed: [] })
  })

  it('a failing source stream aborts the multipart upload: nothing is written', async (ctx) => {
    needTarget(ctx)
    const store = open({ partSize: 5 * MiB, queueSize: 1 })
    const failing = (async function* () {
      yield patternBytes(6 * MiB)
      throw new Error('source broke')
    })()
    const error = await store.put('broken/stream', failing).catch((e: unknown) => e)
    expect(XComError.is(error, 'E_BACKEND')).toBe(true)
    expect((error as Error).message).toContain('source broke')
    expect(await store.head('broken/stream')).toBeUndefined()
  })

  it('an abort signal stops the upload with its reason: nothing is written', async (ctx) => {
    needTarget(ctx)
    const store = open({ partSize: 5 * MiB, queueSize: 1 })
    const controller = new AbortController()
    const aborted = await store
      .put('aborted/early', text('x'), { signal: AbortSignal.abort(new Error('stop')) })
      .catch((e: unknown) => e)
    expect((aborted as Error).message).toBe('stop')
    const source = (async function* () {
      yield patternBytes(6 * MiB)
      controller.abort(new Error('changed my mind'))
      yield patternBytes(6 * MiB)
    })()
    const error = await store
      .put('aborted/late', source, { signal: controller.signal })
      .catch((e: unknown) => e)
    expect((error as Error).message).toBe('changed my mind')
    expect(await store.head('aborted/early')).toBeUndefined()
    expect(await store.head('aborted/late')).toBeUndefined()
  })

  it('maps a missing bucket to E_NOT_FOUND naming the bucket, for every operation', async (ctx) => {
    needTarget(ctx)
    const store = open({ bucket: `xcom-missing-${Date.now()}` })
    const expectMissing = (error: unknown) => {
      expect(XComError.is(error, 'E_NOT_FOUND')).toBe(true)
      expect((error as Error).message).toContain(`bucket "${store.bucket}" does not exist`)
    }
    expectMissing(await store.put('k', text('v')).catch((e: unknown) => e))
    expectMissing(await store.put('k', patternBytes(9 * MiB)).catch((e: unknown) => e))
    expectMissing(await store.get('k').catch((e: unknown) => e))
    expectMissing(
      await (async () => {
        for await (const _ of store.list('')) {
        }
      })().catch((e: unknown) => e),
    )
    const { failed } = await store.deleteMany(['k'])
    expect(failed).toHaveLength(1)
    expectMissing(failed[0]?.error)
  })

  it('create-only writes: refused up front when the endpoint cannot honour them', async (ctx) => {
    needTarget(ctx)
    const store = open({ conditionalCreate: false })
    await store.put('cond/k', text('first'))
    const error = await store.put('cond/k', text('second'), { ifNoneMatch: true }).catch((e: unknown) => e)
    expect(XComError.is(error, 'E_CONFIG')).toBe(true)
    expect(Buffer.from(await (await store.get('cond/k')).bytes()).toString()).toBe('first')
    expect(store.capabilities.conditionalCreate).toBe(false)
  })

  it('rejects empty keys and malformed ranges with E_INVALID_KEY', async (ctx) => {
    needTarget(ctx)
    const store = open()
    await expect(store.put('', text('x'))).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    await store.put('range/k', text('0123456789'))
    await expect(store.get('range/k', { range: { start: 5, end: 2 } })).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    })
    await expect(store.get('range/k', { range: { start: -1 } })).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    })
  })

  it('close() destroys only a client it created', async (ctx) => {
    needTarget(ctx)
    const target = getTarget() as S3Target
    const client = new S3Client({
      region: target.options.region ?? process.env.AWS_REGION,
      endpoint: target.options.endpoint,
      forcePathStyle: target.options.forcePathStyle,
      credentials: target.options.credentials,
    })
    const shared = new S3ObjectStore({ ...target.options, client })
    await shared.put('close/k', text('v'))
    await shared.close()
    const again = new S3ObjectStore({ ...target.options, client })
    expect((await again.head('close/k'))?.size).toBe(1)
    client.destroy()
  })
}

describe('S3ObjectStore against s3rver', () => {
  const getTarget = useS3rver()
  storeTests(getTarget)

  it('maps wrong credentials to E_PERMISSION_DENIED without leaking the secret; nothing is written', async (ctx) => {
    const target = getTarget()
    if (!target) return ctx.skip()
    // s3rver checks that the access key exists (it does not verify V4 signatures, so a wrong secret alone passes).
    const bad = new S3ObjectStore({
      ...target.options,
      credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'TOP-SECRET-VALUE' },
    })
    for (const attempt of [
      () => bad.put('denied/k', text('v')),
      () => bad.get('denied/k'),
      () => bad.head('denied/k'),
      async () => {
        for await (const _ of bad.list('')) {
        }
      },
    ]) {
      const error = await attempt().catch((e: unknown) => e)
      expect(XComError.is(error, 'E_PERMISSION_DENIED')).toBe(true)
      expect((error as Error).message).not.toContain('TOP-SECRET-VALUE')
      expect((error as XComError).uri).toContain(target.options.bucket)
    }
    await bad.close()
    const good = new S3ObjectStore(target.options)
    expect(await good.head('denied/k')).toBeUndefined()
    await good.close()
  })

  it('s3rver ignores If-None-Match on writes (why the local suites run with conditionalCreate: false)', async (ctx) => {
    const target = getTarget()
    if (!target) return ctx.skip()
    const trusting = new S3ObjectStore({ ...target.options, conditionalCreate: true })
    await trusting.put('ifnonematch/k', text('first'))
    await trusting.put('ifnonematch/k', text('second'), { ifNoneMatch: true })
    expect(Buffer.from(await (await trusting.get('ifnonematch/k')).bytes()).toString()).toBe('second')
    await trusting.close()
  })
})

const aws = awsTarget()
if (!aws) {
  console.warn(
    'S3ObjectStore real-AWS tests skipped: set XCOM_TEST_S3_BUCKET (and AWS_REGION plus AWS credentials) to run them.',
  )
}
describe.skipIf(!aws)('S3ObjectStore against AWS S3 (XCOM_TEST_S3_BUCKET)', () => {
  afterAll(async () => {
    if (aws) await emptyPrefix(aws)
  })
  storeTests(() => aws)

  it('create-only writes fail with E_PRECONDITION_FAILED when the key exists (single and multipart)', async () => {
    // 5 MiB parts: the 6 MiB body goes through CompleteMultipartUpload with If-None-Match.
    const store = new S3ObjectStore({ ...(aws as S3Target).options, partSize: 5 * MiB })
    await store.put('cond-aws/k', text('first'), { ifNoneMatch: true })
    await expect(store.put('cond-aws/k', text('second'), { ifNoneMatch: true })).rejects.toMatchObject({
      code: 'E_PRECONDITION_FAILED',
    })
    await expect(store.put('cond-aws/big', patternBytes(6 * MiB), { ifNoneMatch: true })).resolves.toEqual({
      size: 6 * MiB,
    })
    await expect(
      store.put('cond-aws/big', patternBytes(6 * MiB), { ifNoneMatch: true }),
    ).rejects.toMatchObject({
      code: 'E_PRECONDITION_FAILED',
    })
    expect(Buffer.from(await (await store.get('cond-aws/k')).bytes()).toString()).toBe('first')
    await store.close()
  })
})
