import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServiceOrSkip, type S3rverHandle, startS3rver } from '../src/index.ts'
import { expectCleanStop } from './stop.ts'

let s3: S3rverHandle | undefined

beforeAll(async () => {
  s3 = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: 'xcom-test' }))
})
afterAll(() => s3?.stop())

describe('startS3rver', () => {
  it('serves PutObject, GetObject and ListObjectsV2 on 127.0.0.1', async (ctx) => {
    if (!s3) return ctx.skip()
    expect(s3).toMatchObject({
      endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      bucket: 'xcom-test',
    })
    const put = await fetch(`${s3.endpoint}/xcom-test/dir/key.txt`, { method: 'PUT', body: 'payload' })
    expect(put.status).toBe(200)
    const get = await fetch(`${s3.endpoint}/xcom-test/dir/key.txt`)
    expect(await get.text()).toBe('payload')
    const list = await (await fetch(`${s3.endpoint}/xcom-test?list-type=2&prefix=dir%2F`)).text()
    expect(list).toContain('<Key>dir/key.txt</Key>')
    expect(list).toContain('<KeyCount>1</KeyCount>')
  })

  it('creates more buckets and refuses invalid names', async (ctx) => {
    if (!s3) return ctx.skip()
    await s3.createBucket('another-bucket')
    expect((await fetch(`${s3.endpoint}/another-bucket`, { method: 'HEAD' })).status).toBe(200)
    await expect(s3.createBucket('b')).rejects.toThrow(/InvalidBucketName/)
    expect((await fetch(`${s3.endpoint}/b`, { method: 'HEAD' })).status).toBe(404)
  })

  it('removes its directory and stops answering on stop()', async (ctx) => {
    const own = await requireServiceOrSkip('s3rver', () => startS3rver())
    if (!own) return ctx.skip()
    await expectCleanStop(own, own.directory, own.endpoint)
  })
})
