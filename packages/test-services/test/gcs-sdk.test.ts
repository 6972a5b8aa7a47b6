import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Storage } from '@google-cloud/storage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { crc32cBase64, crc32cUpdate, type GcsServerHandle, startGcsServer } from '../src/index.ts'

let gcs: GcsServerHandle
let storage: Storage
const BUCKET = 'xcom-sdk'

/**
 * A fresh client: retries wait at most 1 s, and no earlier call can have disabled them (a `save` with
 * `resumable: false` and no precondition turns retries off for its whole `Storage` instance).
 */
function client(): Storage {
  return new Storage({
    apiEndpoint: gcs.apiEndpoint,
    projectId: gcs.projectId,
    retryOptions: { maxRetryDelay: 1 },
  })
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks)
}

beforeAll(async () => {
  gcs = await startGcsServer()
  storage = client()
  await storage.createBucket(BUCKET)
})
afterAll(() => gcs?.stop())

describe('buckets', () => {
  it('creates, checks and lists buckets', async () => {
    await storage.createBucket('xcom-second')
    expect((await storage.bucket('xcom-second').exists())[0]).toBe(true)
    expect((await storage.bucket('xcom-missing').exists())[0]).toBe(false)
    const [buckets] = await storage.getBuckets()
    expect(buckets.map((b) => b.name)).toEqual(expect.arrayContaining([BUCKET, 'xcom-second']))
  })

  it('refuses a duplicate bucket with 409', async () => {
    await expect(storage.createBucket(BUCKET)).rejects.toMatchObject({ code: 409 })
  })
})

describe('uploads and downloads', () => {
  it('saves with the default resumable upload and reads back with crc32c validation', async () => {
    const file = storage.bucket(BUCKET).file('dir/hello.txt')
    await file.save('hello world!', { metadata: { metadata: { a: 'b' } } })
    const [metadata] = await file.getMetadata()
    expect(metadata).toMatchObject({
      name: 'dir/hello.txt',
      size: '12',
      contentType: 'text/plain',
      metageneration: '1',
      metadata: { a: 'b' },
    })
    expect(metadata.crc32c).toBe(crc32cBase64(crc32cUpdate(0, Buffer.from('hello world!'))))
    expect(metadata.md5Hash).toBe(createHash('md5').update('hello world!').digest('base64'))
    expect(metadata.generation).toMatch(/^\d+$/)
    const [content] = await file.download()
    expect(content.toString()).toBe('hello world!')
    expect(gcs.readObject(BUCKET, 'dir/hello.txt')?.toString()).toBe('hello world!')
  })

  it('saves with a multipart upload (resumable: false) and an empty object', async () => {
    const retryFree = client() // resumable:false without precondition disables retries on its instance
    const bucket = retryFree.bucket(BUCKET)
    await bucket.file('multi.bin').save(Buffer.from([1, 2, 3]), { resumable: false, contentType: 'x/y' })
    await bucket.file('empty').save(Buffer.alloc(0))
    expect((await bucket.file('multi.bin').getMetadata())[0]).toMatchObject({ size: '3', contentType: 'x/y' })
    expect((await bucket.file('multi.bin').download())[0]).toEqual(Buffer.from([1, 2, 3]))
    const [empty] = await bucket.file('empty').download()
    expect(empty.length).toBe(0)
    expect((await bucket.file('empty').getMetadata())[0]).toMatchObject({ size: '0', crc32c: 'AAAAAA==' })
  })

  it('uploads 20 MiB with createWriteStream and chunkSize 8 MiB (308 path), validated on download', async () => {
    const data = randomBytes(20 * 1024 * 1024)
    const file = storage.bucket(BUCKET).file('big/20mib.bin')
    const before = gcs.requests().length
    await pipeline(Readable.from([data]), file.createWriteStream({ chunkSize: 8 * 1024 * 1024 }))
    const puts = gcs
      .requests()
      .slice(before)
      .filter((r) => r.method === 'PUT')
      .map((r) => [r.contentRange, r.status])
    expect(puts).toEqual([
      ['bytes 0-8388607/*', 308],
      ['bytes 8388608-16777215/*', 308],
      ['bytes 16777216-20971519/20971520', 200],
    ])
    expect((await file.getMetadata())[0].size).toBe(String(data.length))
    const [content] = await file.download({ validation: 'crc32c' })
    expect(content.equals(data)).toBe(true)
    const [md5Checked] = await file.download({ validation: 'md5' })
    expect(md5Checked.equals(data)).toBe(true)
  })

  it('reads ranges with download and createReadStream', async () => {
    const file = storage.bucket(BUCKET).file('range.txt')
    await file.save('0123456789abcdef')
    expect((await file.download({ start: 2, end: 5 }))[0].toString()).toBe('2345')
    expect((await readAll(file.createReadStream({ start: 10 }))).toString()).toBe('abcdef')
    expect((await readAll(file.createReadStream({ end: -4 }))).toString()).toBe('cdef')
    expect((await readAll(file.createReadStream({ start: 0, end: 0 }))).toString()).toBe('0')
  })

  it('fails validation when the stored bytes are corrupted behind the client', async () => {
    const file = storage.bucket(BUCKET).file('corrupt-me.txt')
    await file.save('precious bytes')
    gcs.corruptObject(BUCKET, 'corrupt-me.txt')
    await expect(file.download()).rejects.toMatchObject({ code: 'CONTENT_DOWNLOAD_MISMATCH' })
  })

  it('answers 404 for a missing object and for one deleted behind the client', async () => {
    const file = storage.bucket(BUCKET).file('vanishing.txt')
    await file.save('soon gone')
    expect(gcs.deleteObject(BUCKET, 'vanishing.txt')).toBe(true)
    expect((await file.exists())[0]).toBe(false)
    await expect(file.download()).rejects.toMatchObject({ code: 404 })
    await expect(file.getMetadata()).rejects.toMatchObject({ code: 404 })
  })
})

describe('STORAGE_EMULATOR_HOST', () => {
  it('serves the SDK on the /b/... routes it uses when the variable is set', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST
    process.env.STORAGE_EMULATOR_HOST = gcs.apiEndpoint
    let emulated: Storage
    try {
      emulated = new Storage({ projectId: gcs.projectId })
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST
      else process.env.STORAGE_EMULATOR_HOST = saved
    }
    const before = gcs.requests().length
    const file = emulated.bucket(BUCKET).file('emulator/host.txt')
    await file.save('via env')
    expect((await file.download())[0].toString()).toBe('via env')
    const [files] = await emulated.bucket(BUCKET).getFiles({ prefix: 'emulator/' })
    expect(files.map((f) => f.name)).toEqual(['emulator/host.txt'])
    await file.delete()
    const targets = gcs
      .requests()
      .slice(before)
      .map((r) => r.target)
    expect(targets.filter((t) => t.startsWith('/b/'))).toHaveLength(3)
    expect(targets.every((t) => t.startsWith('/b/') || t.startsWith('/upload/storage/v1/b/'))).toBe(true)
  })
})

describe('metadata and deletion', () => {
  it('merges metadata, deletes keys set to null and bumps metageneration', async () => {
    const file = storage.bucket(BUCKET).file('meta.txt')
    await file.save('m', { metadata: { metadata: { keep: '1', drop: '2' } } })
    const [updated] = await file.setMetadata({ metadata: { drop: null, add: '3' }, cacheControl: 'no-store' })
    expect(updated).toMatchObject({
      metageneration: '2',
      cacheControl: 'no-store',
      metadata: { keep: '1', add: '3' },
    })
    expect(updated.metadata).not.toHaveProperty('drop')
    expect((await file.getMetadata())[0].metadata).toEqual({ keep: '1', add: '3' })
  })

  it('deletes, and ignores a missing object only with ignoreNotFound', async () => {
    const file = storage.bucket(BUCKET).file('delete-me.txt')
    await file.save('x')
    await file.delete()
    expect((await file.exists())[0]).toBe(false)
    await expect(file.delete()).rejects.toMatchObject({ code: 404 })
    await expect(file.delete({ ignoreNotFound: true })).resolves.toBeDefined()
  })
})

describe('listing', () => {
  beforeAll(async () => {
    const bucket = storage.bucket(BUCKET)
    for (const name of ['logs/a', 'logs/b', 'logs/c', 'logs/sub/d', 'logs/sub/e', 'other']) {
      await bucket.file(name).save(name, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })
    }
  })

  it('lists with a prefix', async () => {
    const [files] = await storage.bucket(BUCKET).getFiles({ prefix: 'logs/' })
    expect(files.map((f) => f.name)).toEqual(['logs/a', 'logs/b', 'logs/c', 'logs/sub/d', 'logs/sub/e'])
  })

  it('rolls names up into prefixes with a delimiter', async () => {
    const [files, , apiResponse] = await storage
      .bucket(BUCKET)
      .getFiles({ prefix: 'logs/', delimiter: '/', autoPaginate: false })
    expect(files.map((f) => f.name)).toEqual(['logs/a', 'logs/b', 'logs/c'])
    expect((apiResponse as { prefixes?: string[] }).prefixes).toEqual(['logs/sub/'])
  })

  it('paginates with maxResults and pageToken', async () => {
    const bucket = storage.bucket(BUCKET)
    const [page1, next1] = await bucket.getFiles({ prefix: 'logs/', maxResults: 2, autoPaginate: false })
    expect(page1.map((f) => f.name)).toEqual(['logs/a', 'logs/b'])
    expect(next1).toMatchObject({ pageToken: expect.any(String) })
    const [page2, next2] = await bucket.getFiles({ ...next1, autoPaginate: false })
    expect(page2.map((f) => f.name)).toEqual(['logs/c', 'logs/sub/d'])
    const [page3, next3] = await bucket.getFiles({ ...next2, autoPaginate: false })
    expect(page3.map((f) => f.name)).toEqual(['logs/sub/e'])
    expect(next3).toBeNull()
  })

  it('follows every page with autoPaginate', async () => {
    const [files] = await storage.bucket(BUCKET).getFiles({ prefix: 'logs/' })
    expect(files).toHaveLength(5)
  })
})

describe('preconditions', () => {
  it.each([
    ['multipart', false],
    ['resumable', true],
  ])('answers 412 to a second create-only %s upload and keeps the first object', async (kind, resumable) => {
    const file = storage.bucket(BUCKET).file(`once-${kind}.txt`)
    const options = { resumable, preconditionOpts: { ifGenerationMatch: 0 } }
    await file.save('first', options)
    await expect(file.save('second', options)).rejects.toMatchObject({ code: 412 })
    expect(gcs.readObject(BUCKET, `once-${kind}.txt`)?.toString()).toBe('first')
  })

  it('deletes only the matching generation', async () => {
    const file = storage.bucket(BUCKET).file('gen-delete.txt')
    await file.save('g')
    const generation = Number((await file.getMetadata())[0].generation)
    await expect(file.delete({ ifGenerationMatch: generation + 1 })).rejects.toMatchObject({ code: 412 })
    await file.delete({ ifGenerationMatch: generation })
    expect((await file.exists())[0]).toBe(false)
  })
})

describe('fault injection', () => {
  it('retries a multipart upload with a precondition after a 503', async () => {
    const fault = gcs.failNext({ method: 'POST', pathIncludes: 'uploadType=multipart', status: 503 })
    const file = client().bucket(BUCKET).file('retried-multipart.txt')
    await file.save('after a 503', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })
    expect(fault).toMatchObject({ hits: 1, remaining: 0 })
    expect(gcs.readObject(BUCKET, 'retried-multipart.txt')?.toString()).toBe('after a 503')
  })

  it('retries a resumable upload with a precondition after 503 on its init and 429 on its PUT', async () => {
    const init = gcs.failNext({ method: 'POST', pathIncludes: 'uploadType=resumable', status: 503 })
    const put = gcs.failNext({ method: 'PUT', pathIncludes: 'upload_id=', status: 429 })
    const file = client().bucket(BUCKET).file('retried-resumable.txt')
    await file.save('after faults', { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } })
    expect([init.hits, put.hits]).toEqual([1, 1])
    expect((await file.download())[0].toString()).toBe('after faults')
  })

  it('does not retry an upload without a precondition: the 503 reaches the caller and nothing is stored', async () => {
    gcs.failNext({ method: 'POST', pathIncludes: 'uploadType=multipart', status: 503 })
    const file = client().bucket(BUCKET).file('not-retried.txt')
    await expect(file.save('x', { resumable: false })).rejects.toMatchObject({ code: 503 })
    expect(gcs.readObject(BUCKET, 'not-retried.txt')).toBeUndefined()
  })

  it('retries a download after a dropped connection', async () => {
    const file = client().bucket(BUCKET).file('dropped.txt')
    await file.save('survives a reset')
    const fault = gcs.failNext({ method: 'GET', pathIncludes: 'alt=media', reset: true })
    expect((await file.download())[0].toString()).toBe('survives a reset')
    expect(fault.hits).toBe(1)
  })
})
