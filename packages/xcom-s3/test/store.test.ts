import { toReadableStream } from '@xcom/core/adapter'
import { chunked, expectBytes, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { S3ObjectStore } from '../src/index.ts'
import {
  describeOnAws,
  MiB,
  rawClient,
  type S3Target,
  storeOpener,
  targetOrSkip,
  utf8 as text,
  unknownKeyStore,
  useS3rver,
} from './support.ts'

/** Store behaviour beyond the conformance suite, run against one target. */
function storeTests(getTarget: () => S3Target | undefined) {
  const open = storeOpener(getTarget)
  const needTarget = (ctx: { skip: () => void }) => targetOrSkip(getTarget, ctx)

  it('crosses the multipart boundary: 12 MiB bytes and 12 MiB streams with 5 MiB parts', async (ctx) => {
    needTarget(ctx)
    const store = open({ partSize: 5 * MiB, queueSize: 2 })
    const data = randomBytes(12 * MiB)
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
    expect(await store.put('multi/stream', toReadableStream(chunked(data, 777_777)))).toEqual({
      size: data.byteLength,
    })
    expect(await store.put('multi/iterable', chunked(data, MiB))).toEqual({ size: data.byteLength })
    for (const key of ['multi/bytes', 'multi/stream', 'multi/iterable']) {
      const body = await store.get(key)
      expect(body.size).toBe(data.byteLength)
      expectBytes(await body.bytes(), data)
    }
    expect((await store.head('multi/bytes'))?.metadata).toEqual({ 'xcom-kind': 'bytes' })
    const slice = await store.get('multi/stream', { range: { start: 5 * MiB - 3, end: 5 * MiB + 2 } })
    expect(Array.from(await slice.bytes())).toEqual(Array.from(data.subarray(5 * MiB - 3, 5 * MiB + 3)))
    expect(slice.size).toBe(data.byteLength)
  })

  it('reads large objects in parallel ranged parts, with the same bytes as one GET', async (ctx) => {
    needTarget(ctx)
    const data = randomBytes(17 * MiB + 5, 9)
    const parallel = open({ partSize: 5 * MiB, readConcurrency: 3 })
    const single = open({ partSize: 5 * MiB, readConcurrency: 1 })
    await parallel.put('parallel/k', data, { metadata: { 'xcom-part': 'yes' } })
    const body = await parallel.get('parallel/k')
    expect(body.size).toBe(data.byteLength)
    expect(body.metadata).toEqual({ 'xcom-part': 'yes' })
    expectBytes(await body.bytes(), data)
    expectBytes(await readAll((await parallel.get('parallel/k')).stream()), data)
    expectBytes(await (await single.get('parallel/k')).bytes(), data)
    // Cancelling after the first part stops the reads; the store keeps working.
    const reader = (await parallel.get('parallel/k')).stream().getReader()
    expect((await reader.read()).value?.byteLength).toBe(5 * MiB)
    await reader.cancel()
    expect((await parallel.head('parallel/k'))?.size).toBe(data.byteLength)
  })

  it('an object replaced while it is read in parts fails with E_BACKEND, never with mixed bytes', async (ctx) => {
    needTarget(ctx)
    const store = open({ partSize: 5 * MiB, readConcurrency: 2 })
    await store.put('replaced/k', randomBytes(12 * MiB, 1))
    for (const read of ['bytes', 'stream'] as const) {
      const body = await store.get('replaced/k')
      await store.put('replaced/k', randomBytes(6 * MiB, 2))
      const error = await expectXComError(
        read === 'bytes' ? body.bytes() : readAll(body.stream()),
        'E_BACKEND',
      )
      expect(error.message).toContain('changed while it was being read')
      await store.put('replaced/k', randomBytes(12 * MiB, 1))
    }
  })

  it('a small stream goes up in one request and reads back as a web stream', async (ctx) => {
    needTarget(ctx)
    const store = open()
    expect(
      await store.put('small/stream', toReadableStream(chunked(text('hello, s3'), 4)), {
        contentType: 'text/plain',
      }),
    ).toEqual({ size: 9 })
    const body = await store.get('small/stream')
    expect(await new Response(body.stream()).text()).toBe('hello, s3')
    expect(await store.put('small/empty', new Uint8Array(0))).toEqual({ size: 0 })
    expect((await (await store.get('small/empty')).bytes()).byteLength).toBe(0)
  })

  it('lists page by page, strips the prefix, and stays inside its prefix', async (ctx) => {
    const target = needTarget(ctx)
    const store = open({ pageSize: 2, prefix: `${target.options.prefix}/paged` })
    const sibling = open({ prefix: `${target.options.prefix}/paged-sibling` })
    await sibling.put('x', text('not mine'))
    // No segment is a prefix of a sibling's (s3rver walks directories, so such keys come out of byte order across pages).
    const keys = ['a/1', 'a/2', 'a/3', 'b/1', 'c%2F/2']
    for (const key of keys) await store.put(key, text(key), { metadata: { 'xcom-key': 'v' } })
    const listed = []
    for await (const info of store.list('')) listed.push(info)
    expect(listed.map((info) => info.objectKey).sort()).toEqual([...keys].sort())
    // ListObjectsV2 carries no user metadata: listings leave it empty, head() and get() return it.
    expect(listed.every((info) => info.metadata && Object.keys(info.metadata).length === 0)).toBe(true)
    expect((await store.head('a/2'))?.metadata).toEqual({ 'xcom-key': 'v' })
    expect((await store.get('a/2')).metadata).toEqual({ 'xcom-key': 'v' })
    expect(listed.find((info) => info.objectKey === 'a/2')?.size).toBe(3)
    const onlyA = []
    for await (const info of store.list('a/')) onlyA.push(info.objectKey)
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
      yield randomBytes(6 * MiB)
      throw new Error('source broke')
    })()
    const error = await expectXComError(store.put('broken/stream', failing), 'E_BACKEND')
    expect(error.message).toContain('source broke')
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
      yield randomBytes(6 * MiB)
      controller.abort(new Error('changed my mind'))
      yield randomBytes(6 * MiB)
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
    const expectMissing = async (failing: Promise<unknown>) => {
      const error = await expectXComError(failing, 'E_NOT_FOUND')
      expect(error.message).toContain(`bucket "${store.bucket}" does not exist`)
    }
    await expectMissing(store.put('k', text('v')))
    await expectMissing(store.put('k', randomBytes(9 * MiB)))
    await expectMissing(store.get('k'))
    await expectMissing(
      (async () => {
        for await (const _ of store.list('')) {
        }
      })(),
    )
    const { failed } = await store.deleteMany(['k'])
    expect(failed).toHaveLength(1)
    await expectMissing(Promise.reject(failed[0]?.error))
  })

  it('create-only writes: refused up front when the endpoint cannot honour them', async (ctx) => {
    needTarget(ctx)
    const store = open({ conditionalCreate: false })
    await store.put('cond/k', text('first'))
    await expectXComError(store.put('cond/k', text('second'), { ifNoneMatch: true }), 'E_CONFIG')
    expect(Buffer.from(await (await store.get('cond/k')).bytes()).toString()).toBe('first')
    expect(store.capabilities.conditionalCreate).toBe(false)
  })

  it('rejects empty keys and malformed ranges with E_INVALID_KEY', async (ctx) => {
    needTarget(ctx)
    const store = open()
    await expectXComError(store.put('', text('x')), 'E_INVALID_KEY')
    await store.put('range/k', text('0123456789'))
    await expectXComError(store.get('range/k', { range: { start: 5, end: 2 } }), 'E_INVALID_KEY')
    await expectXComError(store.get('range/k', { range: { start: -1 } }), 'E_INVALID_KEY')
  })

  it('close() destroys only a client it created', async (ctx) => {
    const target = needTarget(ctx)
    const client = rawClient(target)
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
    const target = targetOrSkip(getTarget, ctx)
    const bad = unknownKeyStore(target, 'TOP-SECRET-VALUE')
    for (const attempt of [
      () => bad.put('denied/k', text('v')),
      () => bad.get('denied/k'),
      () => bad.head('denied/k'),
      async () => {
        for await (const _ of bad.list('')) {
        }
      },
    ]) {
      const error = await expectXComError(attempt, 'E_PERMISSION_DENIED')
      expect(error.message).not.toContain('TOP-SECRET-VALUE')
      expect(error.uri).toContain(target.options.bucket)
    }
    await bad.close()
    const good = new S3ObjectStore(target.options)
    expect(await good.head('denied/k')).toBeUndefined()
    await good.close()
  })

  it('s3rver ignores If-None-Match on writes (why the local suites run with conditionalCreate: false)', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    const trusting = new S3ObjectStore({ ...target.options, conditionalCreate: true })
    await trusting.put('ifnonematch/k', text('first'))
    await trusting.put('ifnonematch/k', text('second'), { ifNoneMatch: true })
    expect(Buffer.from(await (await trusting.get('ifnonematch/k')).bytes()).toString()).toBe('second')
    await trusting.close()
  })
})

describeOnAws('S3ObjectStore', (aws) => {
  storeTests(() => aws)

  it('create-only writes fail with E_PRECONDITION_FAILED when the key exists (single and multipart)', async () => {
    // 5 MiB parts: the 6 MiB body goes through CompleteMultipartUpload with If-None-Match.
    const store = new S3ObjectStore({ ...aws.options, partSize: 5 * MiB })
    await store.put('cond-aws/k', text('first'), { ifNoneMatch: true })
    await expectXComError(
      store.put('cond-aws/k', text('second'), { ifNoneMatch: true }),
      'E_PRECONDITION_FAILED',
    )
    await expect(store.put('cond-aws/big', randomBytes(6 * MiB), { ifNoneMatch: true })).resolves.toEqual({
      size: 6 * MiB,
    })
    await expectXComError(
      store.put('cond-aws/big', randomBytes(6 * MiB), { ifNoneMatch: true }),
      'E_PRECONDITION_FAILED',
    )
    expect(Buffer.from(await (await store.get('cond-aws/k')).bytes()).toString()).toBe('first')
    await store.close()
  })
})
