import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

  it('restarts on the same port with the same data when given a directory, which stop() keeps', async (ctx) => {
    const directory = await mkdtemp(join(tmpdir(), 'xcom-s3rver-test-'))
    try {
      const first = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: 'kept', directory }))
      if (!first) return ctx.skip()
      const put = await fetch(`${first.endpoint}/kept/key.txt`, { method: 'PUT', body: 'survives' })
      expect(put.status).toBe(200)
      await first.stop()
      expect(existsSync(directory)).toBe(true)
      await expect(fetch(`${first.endpoint}/kept/key.txt`)).rejects.toThrow()
      const port = Number(new URL(first.endpoint).port)
      const second = await startS3rver({ port, directory })
      try {
        expect(second.endpoint).toBe(first.endpoint)
        expect(await (await fetch(`${second.endpoint}/kept/key.txt`)).text()).toBe('survives')
      } finally {
        await second.stop()
      }
      expect(existsSync(directory)).toBe(true)
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
