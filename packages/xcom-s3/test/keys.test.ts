import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { XComError } from '@xcom/core'
import { afterAll, describe, expect, it } from 'vitest'
import { S3ObjectStore } from '../src/index.ts'
import { type S3Target, useS3rver } from './support.ts'

const text = (value: string) => new TextEncoder().encode(value)
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

async function invalidKey(run: () => Promise<unknown>): Promise<XComError> {
  const error = await run().then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(XComError.is(error, 'E_INVALID_KEY'), `expected E_INVALID_KEY, got ${String(error)}`).toBe(true)
  return error as XComError
}

describe('forged keys against s3rver (the real SDK)', () => {
  const getTarget = useS3rver()
  const stores: S3ObjectStore[] = []
  let raw: S3Client | undefined
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
    raw?.destroy()
  })
  /** A store on `<run>/mine`, the raw client, and the full key of another XCom's object on `<run>/theirs`. */
  const setup = async () => {
    const target = getTarget() as S3Target
    const mine = new S3ObjectStore({ ...target.options, prefix: `${target.options.prefix}/mine` })
    stores.push(mine)
    raw ??= new S3Client({
      endpoint: target.options.endpoint,
      region: target.options.region,
      forcePathStyle: true,
      credentials: target.options.credentials,
    })
    const other = `${target.options.prefix}/theirs/dag/run/task/-1/return_value/id.json`
    await raw.send(new PutObjectCommand({ Bucket: target.options.bucket, Key: other, Body: 'their value' }))
    await mine.put('dag/run/task/-1/return_value/own.json', text('my value'))
    return { mine, raw, bucket: target.options.bucket, other }
  }
  const readOther = async (client: S3Client, bucket: string, other: string) =>
    (await (
      await client.send(new GetObjectCommand({ Bucket: bucket, Key: other }))
    ).Body?.transformToString()) ?? ''
  // From the store's own key, up to the run prefix, then down to the other object.
  const forged =
    'dag/run/task/-1/return_value/own.json/../../../../../../../theirs/dag/run/task/-1/return_value/id.json'

  it('s3rver resolves ".." in a key: the raw SDK reaches another object (why stores must refuse such keys)', async (ctx) => {
    const target = getTarget()
    if (!target) return ctx.skip()
    const { raw, bucket, other } = await setup()
    const forgedFull = `${target.options.prefix}/mine/${forged}`
    const read = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: forgedFull }))
    expect(await read.Body?.transformToString()).toBe('their value')
    expect(await readOther(raw, bucket, other)).toBe('their value')
  })

  it('get, head, put and list refuse it with E_INVALID_KEY; the other object is untouched', async (ctx) => {
    const target = getTarget()
    if (!target) return ctx.skip()
    const { mine, raw, bucket, other } = await setup()
    const error = await invalidKey(() => mine.get(forged))
    expect(error.message).toContain(mine.url)
    expect(error.message).toContain('".." segment')
    await invalidKey(() => mine.head(forged))
    await invalidKey(() => mine.put(forged, text('overwritten')))
    await invalidKey(() => mine.put(forged, text('overwritten'), { ifNoneMatch: true }))
    await invalidKey(async () => {
      for await (const _ of mine.list('dag/../../theirs/')) {
      }
    })
    for (const bad of ['a/./b', 'a//b', '/a', 'a/', '.', '..', '', 'a\\..\\b', 'a/\u0000']) {
      await invalidKey(() => mine.get(bad))
    }
    expect(await readOther(raw, bucket, other)).toBe('their value')
    expect(decode(await (await mine.get('dag/run/task/-1/return_value/own.json')).bytes())).toBe('my value')
  })

  it('deleteMany reports a forged key as failed with E_INVALID_KEY and still deletes the valid keys', async (ctx) => {
    const target = getTarget()
    if (!target) return ctx.skip()
    const { mine, raw, bucket, other } = await setup()
    const own = 'dag/run/task/-1/return_value/own.json'
    const { failed } = await mine.deleteMany([forged, own, 'dag//x'])
    expect(failed.map(({ key }) => key)).toEqual([forged, 'dag//x'])
    for (const { error } of failed) expect(XComError.is(error, 'E_INVALID_KEY')).toBe(true)
    expect(await mine.head(own)).toBeUndefined()
    expect(await readOther(raw, bucket, other)).toBe('their value')
  })

  it('list takes prefixes ending with "/" and partial segments, and refuses dot and empty segments', async (ctx) => {
    const target = getTarget()
    if (!target) return ctx.skip()
    const { mine } = await setup()
    const keys = async (prefix: string) => {
      const out: string[] = []
      for await (const info of mine.list(prefix)) out.push(info.key)
      return out
    }
    expect(await keys('dag/run/')).toEqual(['dag/run/task/-1/return_value/own.json'])
    expect(await keys('dag/ru')).toEqual(['dag/run/task/-1/return_value/own.json'])
    expect(await keys('')).toEqual(['dag/run/task/-1/return_value/own.json'])
    for (const bad of ['/', 'dag//', '../', './dag', 'dag/../', 'dag/..']) {
      await invalidKey(() => keys(bad))
    }
  })

  it('a prefix with dot or empty segments is refused up front with E_CONFIG', () => {
    for (const prefix of ['a/../b', 'a//b', './a', 'a/..']) {
      expect(() => new S3ObjectStore({ bucket: 'xcom-test', prefix, region: 'us-east-1' })).toThrow(
        expect.objectContaining({ code: 'E_CONFIG' }),
      )
    }
    // Leading and trailing '/' are trimmed, as before.
    expect(new S3ObjectStore({ bucket: 'xcom-test', prefix: '/a/b/', region: 'us-east-1' }).prefix).toBe(
      'a/b',
    )
  })
})
