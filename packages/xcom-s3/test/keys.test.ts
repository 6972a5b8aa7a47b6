import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { expectXComError } from '@xcom/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { S3ObjectStore } from '../src/index.ts'
import { rawClient, storeOpener, targetOrSkip, utf8 as text, useS3rver } from './support.ts'

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const invalidKey = (run: () => Promise<unknown>) => expectXComError(run, 'E_INVALID_KEY')

describe('forged keys against s3rver (the real SDK)', () => {
  const getTarget = useS3rver()
  const open = storeOpener(getTarget)
  let raw: S3Client | undefined
  afterAll(() => raw?.destroy())
  /**
   * For a test (skipped without s3rver): a store on `<run>/mine`, the raw client, and the full key of another XCom's
   * object on `<run>/theirs`.
   */
  const setup = async (ctx: { skip: () => void }) => {
    const target = targetOrSkip(getTarget, ctx)
    const mine = open({ prefix: `${target.options.prefix}/mine` })
    raw ??= rawClient(target)
    const other = `${target.options.prefix}/theirs/dag/run/task/-1/return_value/id.json`
    await raw.send(new PutObjectCommand({ Bucket: target.options.bucket, Key: other, Body: 'their value' }))
    await mine.put('dag/run/task/-1/return_value/own.json', text('my value'))
    return { target, mine, raw, bucket: target.options.bucket, other }
  }
  const readOther = async (client: S3Client, bucket: string, other: string) =>
    (await (
      await client.send(new GetObjectCommand({ Bucket: bucket, Key: other }))
    ).Body?.transformToString()) ?? ''
  // From the store's own key, up to the run prefix, then down to the other object.
  const forged =
    'dag/run/task/-1/return_value/own.json/../../../../../../../theirs/dag/run/task/-1/return_value/id.json'

  it('s3rver resolves ".." in a key: the raw SDK reaches another object (why stores must refuse such keys)', async (ctx) => {
    const { target, raw, bucket, other } = await setup(ctx)
    const forgedFull = `${target.options.prefix}/mine/${forged}`
    const read = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: forgedFull }))
    expect(await read.Body?.transformToString()).toBe('their value')
    expect(await readOther(raw, bucket, other)).toBe('their value')
  })

  it('get, head, put and list refuse it with E_INVALID_KEY; the other object is untouched', async (ctx) => {
    const { mine, raw, bucket, other } = await setup(ctx)
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
    const { mine, raw, bucket, other } = await setup(ctx)
    const own = 'dag/run/task/-1/return_value/own.json'
    const { failed } = await mine.deleteMany([forged, own, 'dag//x'])
    expect(failed.map(({ objectKey }) => objectKey)).toEqual([forged, 'dag//x'])
    for (const { error } of failed) expect(error.code).toBe('E_INVALID_KEY')
    expect(await mine.head(own)).toBeUndefined()
    expect(await readOther(raw, bucket, other)).toBe('their value')
  })

  it('list takes prefixes ending with "/" and partial segments, and refuses dot and empty segments', async (ctx) => {
    const { mine } = await setup(ctx)
    const keys = async (prefix: string) => {
      const out: string[] = []
      for await (const info of mine.list(prefix)) out.push(info.objectKey)
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
