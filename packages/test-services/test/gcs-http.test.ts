import { createHash } from 'node:crypto'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { crc32cBase64, crc32cUpdate, type GcsServerHandle, startGcsServer } from '../src/index.ts'

/** Raw HTTP with full control over headers (fetch would add Accept-Encoding and decode gzip). */
interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  json(): any
}

function raw(
  base: string,
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${target}`, { method, headers: options.headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body.toString()),
        })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

let gcs: GcsServerHandle
const call = (method: string, target: string, options?: Parameters<typeof raw>[3]) =>
  raw(gcs.apiEndpoint, method, target, options)
const BUCKET = 'raw-bucket'

function mediaUpload(
  name: string,
  body: string | Buffer,
  extraQuery = '',
  headers: Record<string, string> = {},
) {
  return call(
    'POST',
    `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}${extraQuery}`,
    {
      body,
      headers: { 'Content-Type': 'text/plain', ...headers },
    },
  )
}

function expectGoogleError(response: RawResponse, status: number, reason: string): void {
  expect(response.status).toBe(status)
  expect(response.headers['content-type']).toMatch(/^application\/json/)
  expect(response.json()).toEqual({
    error: {
      code: status,
      message: expect.any(String),
      errors: [{ message: expect.any(String), domain: 'global', reason }],
    },
  })
}

beforeAll(async () => {
  gcs = await startGcsServer({ buckets: [BUCKET] })
})
afterAll(() => gcs?.stop())

describe('STORAGE_EMULATOR_HOST-style routes without /storage/v1', () => {
  it('creates a bucket, uploads, reads and deletes on /b/...', async () => {
    const created = await call('POST', '/b?project=test', { body: JSON.stringify({ name: 'emulated' }) })
    expect(created.status).toBe(200)
    expect(created.json()).toMatchObject({ kind: 'storage#bucket', name: 'emulated', metageneration: '1' })
    expect((await call('GET', '/b/emulated')).json()).toMatchObject({ name: 'emulated' })
    const uploaded = await call('POST', '/upload/storage/v1/b/emulated/o?uploadType=media&name=a%2Fb.txt', {
      body: 'hello',
    })
    const resource = uploaded.json()
    expect(resource).toMatchObject({
      kind: 'storage#object',
      name: 'a/b.txt',
      bucket: 'emulated',
      size: '5',
      metageneration: '1',
      crc32c: 'mnG7TA==',
      md5Hash: createHash('md5').update('hello').digest('base64'),
      contentType: 'application/octet-stream',
    })
    for (const field of ['generation', 'metageneration', 'size'])
      expect(typeof resource[field]).toBe('string')
    const media = await call('GET', '/b/emulated/o/a%2Fb.txt?alt=media')
    expect(media.body.toString()).toBe('hello')
    const listed = await call('GET', '/b/emulated/o?prefix=a%2F')
    expect(listed.json().items.map((item: { name: string }) => item.name)).toEqual(['a/b.txt'])
    const deleted = await call('DELETE', '/b/emulated/o/a%2Fb.txt')
    expect(deleted.status).toBe(204)
    expect(deleted.body.length).toBe(0)
    expect(deleted.headers['content-type']).toBeUndefined()
    expect((await call('DELETE', '/b/emulated')).status).toBe(204)
    expectGoogleError(await call('GET', '/b/emulated'), 404, 'notFound')
  })

  it('serves the same object under /storage/v1, /b and /download/storage/v1', async () => {
    await mediaUpload('three-ways', 'same')
    for (const prefix of ['/storage/v1', '', '/download/storage/v1']) {
      expect((await call('GET', `${prefix}/b/${BUCKET}/o/three-ways?alt=media`)).body.toString()).toBe('same')
    }
  })
})

describe('downloads', () => {
  it('sends one X-Goog-Hash header, crc32c first, no spaces, and identity stored encoding', async () => {
    await mediaUpload('hashed.txt', 'hello')
    const response = await call('GET', `/storage/v1/b/${BUCKET}/o/hashed.txt?alt=media`)
    expect(response.status).toBe(200)
    expect(response.headers['x-goog-hash']).toBe(
      `crc32c=mnG7TA==,md5=${createHash('md5').update('hello').digest('base64')}`,
    )
    expect(response.headers['x-goog-stored-content-encoding']).toBe('identity')
    expect(response.headers['content-type']).toBe('text/plain')
    expect(response.headers['content-length']).toBe('5')
  })

  it('answers ranges with 206 and Content-Range, and 416 beyond the end', async () => {
    await mediaUpload('ranged', '0123456789')
    const target = `/storage/v1/b/${BUCKET}/o/ranged?alt=media`
    const cases: [string, string, string][] = [
      ['bytes=2-5', '2345', 'bytes 2-5/10'],
      ['bytes=7-', '789', 'bytes 7-9/10'],
      ['bytes=-3', '789', 'bytes 7-9/10'],
      ['bytes=8-100', '89', 'bytes 8-9/10'],
    ]
    for (const [range, body, contentRange] of cases) {
      const response = await call('GET', target, { headers: { Range: range } })
      expect([response.status, response.body.toString(), response.headers['content-range']]).toEqual([
        206,
        body,
        contentRange,
      ])
    }
    const beyond = await call('GET', target, { headers: { Range: 'bytes=10-' } })
    expectGoogleError(beyond, 416, 'requestedRangeNotSatisfiable')
    expect(beyond.headers['content-range']).toBe('bytes */10')
    expect((await call('GET', target, { headers: { Range: 'bytes=0-1,4-5' } })).status).toBe(200)
  })

  it('serves gzip objects as stored to gzip clients and transcodes for the others', async () => {
    const compressed = gzipSync('compressed text')
    await call('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=z.txt&contentEncoding=gzip`, {
      body: compressed,
    })
    const asStored = await call('GET', `/b/${BUCKET}/o/z.txt?alt=media`, {
      headers: { 'Accept-Encoding': 'gzip' },
    })
    expect(asStored.headers['content-encoding']).toBe('gzip')
    expect(asStored.headers['x-goog-stored-content-encoding']).toBe('gzip')
    expect(asStored.body.equals(compressed)).toBe(true)
    const transcoded = await call('GET', `/b/${BUCKET}/o/z.txt?alt=media`)
    expect(transcoded.headers['content-encoding']).toBeUndefined()
    expect(transcoded.body.toString()).toBe('compressed text')
  })

  it('answers 304 to ifGenerationNotMatch on the current generation, and 404 for another generation', async () => {
    const { generation } = (await mediaUpload('conditional-get', 'c')).json()
    const path = `/b/${BUCKET}/o/conditional-get`
    expect((await call('GET', `${path}?ifGenerationNotMatch=${generation}`)).status).toBe(304)
    expect((await call('GET', `${path}?ifGenerationNotMatch=1`)).status).toBe(200)
    expectGoogleError(await call('GET', `${path}?generation=1&alt=media`), 404, 'notFound')
    expect((await call('GET', `${path}?generation=${generation}&alt=media`)).body.toString()).toBe('c')
  })
})

describe('errors and preconditions', () => {
  it('answers 404 in the Google error shape for missing buckets and objects', async () => {
    expectGoogleError(await call('GET', '/storage/v1/b/nope'), 404, 'notFound')
    expectGoogleError(await call('GET', `/storage/v1/b/${BUCKET}/o/nope`), 404, 'notFound')
    expectGoogleError(await call('GET', `/storage/v1/b/${BUCKET}/o/nope?alt=media`), 404, 'notFound')
    expectGoogleError(await call('DELETE', `/storage/v1/b/${BUCKET}/o/nope`), 404, 'notFound')
    expectGoogleError(await call('GET', '/storage/v1/nothing-here'), 404, 'notFound')
  })

  it('refuses invalid and duplicate buckets', async () => {
    expectGoogleError(await call('POST', '/b?project=test', { body: '{"name":"b"}' }), 400, 'invalid')
    expectGoogleError(await call('POST', '/b?project=test', { body: '{"name":"Upper"}' }), 400, 'invalid')
    expectGoogleError(await call('POST', '/b', { body: '{"name":"no-project"}' }), 400, 'required')
    expectGoogleError(
      await call('POST', '/b?project=test', { body: `{"name":"${BUCKET}"}` }),
      409,
      'conflict',
    )
    expectGoogleError(await call('POST', '/b?project=test', { body: '{not json' }), 400, 'parseError')
  })

  it('refuses to delete a bucket that still has objects', async () => {
    await mediaUpload('keeps-bucket', 'k')
    expectGoogleError(await call('DELETE', `/b/${BUCKET}`), 409, 'conflict')
    expect(gcs.readObject(BUCKET, 'keeps-bucket')?.toString()).toBe('k')
  })

  it('answers 412 to create-only uploads of existing names and keeps the stored bytes', async () => {
    expect((await mediaUpload('create-only', 'one', '&ifGenerationMatch=0')).status).toBe(200)
    expectGoogleError(await mediaUpload('create-only', 'two', '&ifGenerationMatch=0'), 412, 'conditionNotMet')
    const init = await call(
      'POST',
      `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=create-only&ifGenerationMatch=0`,
    )
    expectGoogleError(init, 412, 'conditionNotMet')
    expect(init.json().error.message).toBe('At least one of the pre-conditions you specified did not hold.')
    expect(gcs.readObject(BUCKET, 'create-only')?.toString()).toBe('one')
  })

  it('checks ifMetagenerationMatch on PATCH and leaves the object unchanged on 412', async () => {
    await mediaUpload('patched', 'p')
    const path = `/storage/v1/b/${BUCKET}/o/patched`
    const refused = await call('PATCH', `${path}?ifMetagenerationMatch=2`, { body: '{"metadata":{"k":"v"}}' })
    expectGoogleError(refused, 412, 'conditionNotMet')
    expect((await call('GET', path)).json()).toMatchObject({ metageneration: '1' })
    const accepted = await call('PATCH', `${path}?ifMetagenerationMatch=1`, {
      body: '{"metadata":{"k":"v","n":7},"contentType":"a/b"}',
    })
    expect(accepted.json()).toMatchObject({
      metageneration: '2',
      contentType: 'a/b',
      metadata: { k: 'v', n: '7' },
    })
    const cleared = await call('PATCH', path, { body: '{"metadata":null}' })
    expect(cleared.json().metadata).toBeUndefined()
    expectGoogleError(await call('PATCH', path, { body: '{"cacheControl":5}' }), 400, 'invalid')
  })

  it('ignores unknown query parameters', async () => {
    await mediaUpload('unknown-params', 'u')
    const response = await call(
      'GET',
      `/storage/v1/b/${BUCKET}/o/unknown-params?alt=media&prefix=x&foo=bar&userProject=p`,
    )
    expect(response.body.toString()).toBe('u')
    expect((await call('DELETE', `/storage/v1/b/${BUCKET}/o/unknown-params?prefix=unknown`)).status).toBe(204)
  })

  it('refuses invalid object names and invalid precondition values', async () => {
    expectGoogleError(await mediaUpload('..', 'x'), 400, 'invalid')
    expectGoogleError(await mediaUpload('line\nbreak', 'x'), 400, 'invalid')
    expectGoogleError(await mediaUpload('x'.repeat(1025), 'x'), 400, 'invalid')
    expectGoogleError(await mediaUpload('bad-condition', 'x', '&ifGenerationMatch=abc'), 400, 'invalid')
    expect(gcs.readObject(BUCKET, 'bad-condition')).toBeUndefined()
  })

  it('answers 501 for features it does not implement', async () => {
    await mediaUpload('source', 's')
    for (const [method, target] of [
      ['POST', `/storage/v1/b/${BUCKET}/o/source/compose`],
      ['POST', `/storage/v1/b/${BUCKET}/o/source/rewriteTo/b/${BUCKET}/o/copy`],
      ['POST', `/storage/v1/b/${BUCKET}/o/source/copyTo/b/${BUCKET}/o/copy`],
      ['GET', `/storage/v1/b/${BUCKET}/iam`],
      ['GET', `/storage/v1/b/${BUCKET}/o/source/acl`],
      ['PUT', `/storage/v1/b/${BUCKET}/o/source`],
      ['GET', `/storage/v1/b/${BUCKET}/o?matchGlob=**`],
    ] as const) {
      expectGoogleError(await call(method, target), 501, 'notImplemented')
    }
  })
})

describe('multipart uploads', () => {
  const boundary = 'b0undary'
  const multipart = (
    metadata: object,
    media: string | Buffer,
    mediaHeaders = 'Content-Type: text/plain\r\n',
  ) =>
    Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(metadata)}\r\n`),
      Buffer.from(`--${boundary}\r\n${mediaHeaders}\r\n`),
      Buffer.from(media),
      Buffer.from(`\r\n--${boundary}--`),
    ])
  const post = (name: string, body: Buffer) =>
    call('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart&name=${name}`, {
      body,
      headers: { 'Content-Type': `multipart/related; boundary=${boundary}` },
    })

  it('stores the media part with the metadata part, including bytes that look like delimiters', async () => {
    const media = `line1\r\n--${boundary}\r\nnot a part\r\n\r\n`
    const response = await post(
      'mp.txt',
      multipart({ metadata: { a: 'b' }, cacheControl: 'no-cache' }, media),
    )
    expect(response.json()).toMatchObject({ name: 'mp.txt', contentType: 'text/plain', metadata: { a: 'b' } })
    expect(gcs.readObject(BUCKET, 'mp.txt')?.toString()).toBe(media)
    const empty = await post('mp-empty', multipart({}, '', ''))
    expect(empty.json()).toMatchObject({ size: '0', contentType: 'application/octet-stream' })
  })

  it('refuses a declared crc32c or md5Hash that does not match, storing nothing', async () => {
    expectGoogleError(await post('bad-crc', multipart({ crc32c: 'AAAAAA==' }, 'data')), 400, 'invalid')
    expectGoogleError(
      await post('bad-md5', multipart({ md5Hash: 'AAAAAAAAAAAAAAAAAAAAAA==' }, 'data')),
      400,
      'invalid',
    )
    expect(gcs.readObject(BUCKET, 'bad-crc')).toBeUndefined()
    expect(gcs.readObject(BUCKET, 'bad-md5')).toBeUndefined()
    const crc32c = crc32cBase64(crc32cUpdate(0, Buffer.from('data')))
    expect((await post('good-crc', multipart({ crc32c }, 'data'))).status).toBe(200)
  })

  it('refuses malformed bodies', async () => {
    expectGoogleError(await post('no-close', multipart({}, 'x').subarray(0, -2)), 400, 'invalid')
    expectGoogleError(
      await call('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart&name=n`, { body: 'x' }),
      400,
      'invalid',
    )
  })
})

describe('resumable protocol', () => {
  async function init(name: string, headers: Record<string, string> = {}): Promise<string> {
    const response = await call(
      'POST',
      `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=${name}`,
      {
        headers: { 'Content-Type': 'application/json', 'X-Upload-Content-Type': 'text/plain', ...headers },
        body: '{"metadata":{"via":"resumable"}}',
      },
    )
    expect(response.status).toBe(200)
    expect(response.body.length).toBe(0)
    const location = response.headers.location!
    expect(location.startsWith(`${gcs.apiEndpoint}/upload/storage/v1/b/${BUCKET}/o?`)).toBe(true)
    return location.slice(gcs.apiEndpoint.length)
  }
  const put = (session: string, contentRange: string, body = '') =>
    call('PUT', session, { headers: { 'Content-Range': contentRange }, body })

  it('persists chunks, answers 308 with Range, accepts overlaps, refuses gaps and finalizes once', async () => {
    const session = await init('chunked.txt')
    const status = async (contentRange: string, body?: string) => {
      const response = await put(session, contentRange, body)
      return [response.status, response.headers.range]
    }
    expect(await status('bytes */*')).toEqual([308, undefined])
    expect(await status('bytes 0-4/*', 'hello')).toEqual([308, 'bytes=0-4'])
    expect(await status('bytes 3-7/*', 'lo, w')).toEqual([308, 'bytes=0-7'])
    expect(await status('bytes */*')).toEqual([308, 'bytes=0-7'])
    expectGoogleError(await put(session, 'bytes 20-21/*', 'xx'), 400, 'invalid')
    expectGoogleError(await put(session, 'bytes 8-9/*', 'abc'), 400, 'invalid')
    const done = await put(session, 'bytes 8-11/12', 'orld')
    expect(done.status).toBe(200)
    expect(done.json()).toMatchObject({
      name: 'chunked.txt',
      size: '12',
      contentType: 'text/plain',
      metadata: { via: 'resumable' },
    })
    const again = await put(session, 'bytes */12')
    expect([again.status, again.json().generation]).toEqual([200, done.json().generation])
    expect(gcs.readObject(BUCKET, 'chunked.txt')?.toString()).toBe('hello, world')
  })

  it('treats bytes S-*/* as the rest of the object, and */0 as an empty object', async () => {
    const streamed = await init('streamed.txt')
    expect((await put(streamed, 'bytes 0-*/*', 'all at once')).json()).toMatchObject({ size: '11' })
    const empty = await init('empty.txt')
    expect((await put(empty, 'bytes */0')).json()).toMatchObject({ size: '0', crc32c: 'AAAAAA==' })
  })

  it('finalizes when X-Upload-Content-Length is reached and refuses more', async () => {
    const session = await init('declared.txt', { 'X-Upload-Content-Length': '6' })
    expect((await put(session, 'bytes 0-2/*', 'abc')).status).toBe(308)
    expectGoogleError(await put(session, 'bytes 3-6/*', 'defg'), 400, 'invalid')
    expect((await put(session, 'bytes 3-5/*', 'def')).json()).toMatchObject({ size: '6' })
  })

  it('checks the precondition again at finalize and forgets the session on 412', async () => {
    const session = await init('raced.txt&ifGenerationMatch=0')
    await mediaUpload('raced.txt', 'winner')
    expectGoogleError(await put(session, 'bytes 0-*/*', 'loser'), 412, 'conditionNotMet')
    expectGoogleError(await put(session, 'bytes */*'), 404, 'notFound')
    expect(gcs.readObject(BUCKET, 'raced.txt')?.toString()).toBe('winner')
  })

  it('cancels a session with DELETE (499)', async () => {
    const session = await init('cancelled.txt')
    expect((await call('DELETE', session)).status).toBe(499)
    expectGoogleError(await put(session, 'bytes 0-*/*', 'late'), 404, 'notFound')
    expect(gcs.readObject(BUCKET, 'cancelled.txt')).toBeUndefined()
  })
})

describe('listing', () => {
  beforeAll(async () => {
    for (const name of ['l/a', 'l/b/', 'l/b/1', 'l/b/2', 'l/c/1', 'l/d', 'l/ü', 'l/\u{1F600}', 'l/\uFFFD']) {
      await mediaUpload(name, name)
    }
  })
  const list = async (query: string) =>
    (await call('GET', `/storage/v1/b/${BUCKET}/o?prefix=l%2F&${query}`)).json()

  it('lists in UTF-8 byte order and returns each prefix once across pages', async () => {
    const names: string[] = []
    const prefixes: string[] = []
    let token: string | undefined
    do {
      const page = await list(`delimiter=%2F&maxResults=1${token ? `&pageToken=${token}` : ''}`)
      names.push(...(page.items ?? []).map((item: { name: string }) => item.name))
      prefixes.push(...(page.prefixes ?? []))
      token = page.nextPageToken
    } while (token)
    expect(names).toEqual(['l/a', 'l/d', 'l/ü', 'l/\uFFFD', 'l/\u{1F600}'])
    expect(prefixes).toEqual(['l/b/', 'l/c/'])
  })

  it('supports includeTrailingDelimiter, startOffset and endOffset, and omits empty fields', async () => {
    const trailing = await list('delimiter=%2F&includeTrailingDelimiter=true')
    expect(trailing.items.map((item: { name: string }) => item.name)).toContain('l/b/')
    const window = await list('startOffset=l%2Fb&endOffset=l%2Fd')
    expect(window.items.map((item: { name: string }) => item.name)).toEqual([
      'l/b/',
      'l/b/1',
      'l/b/2',
      'l/c/1',
    ])
    expect((await call('GET', `/b/${BUCKET}/o?prefix=zzz`)).json()).toEqual({ kind: 'storage#objects' })
  })

  it('refuses an invalid page token or maxResults', async () => {
    expectGoogleError(await call('GET', `/b/${BUCKET}/o?pageToken=garbage`), 400, 'invalid')
    expectGoogleError(await call('GET', `/b/${BUCKET}/o?maxResults=-1`), 400, 'invalid')
  })
})

describe('fault injection and limits', () => {
  it('fails the given number of matching requests, then answers normally', async () => {
    await mediaUpload('faulty', 'f')
    const fault = gcs.failNext({ pathIncludes: '/o/faulty', status: 503, times: 2 })
    expectGoogleError(await call('GET', `/b/${BUCKET}/o/faulty`), 503, 'backendError')
    expectGoogleError(await call('GET', `/b/${BUCKET}/o/faulty`), 503, 'backendError')
    expect((await call('GET', `/b/${BUCKET}/o/faulty`)).status).toBe(200)
    expect(fault).toMatchObject({ hits: 2, remaining: 0 })
  })

  it('leaves media downloads alone for retryable statuses unless asked', async () => {
    await mediaUpload('media-fault', 'm')
    const skipped = gcs.failNext({ method: 'GET', pathIncludes: 'media-fault', status: 503 })
    expect((await call('GET', `/b/${BUCKET}/o/media-fault?alt=media`)).status).toBe(200)
    expect(skipped.hits).toBe(0)
    gcs.clearFaults()
    gcs.failNext({ method: 'GET', pathIncludes: 'media-fault', status: 503, includeMediaDownloads: true })
    expectGoogleError(await call('GET', `/b/${BUCKET}/o/media-fault?alt=media`), 503, 'backendError')
    const notRetryable = gcs.failNext({ pathIncludes: 'media-fault', status: 403 })
    expectGoogleError(await call('GET', `/b/${BUCKET}/o/media-fault?alt=media`), 403, 'forbidden')
    expect(notRetryable.hits).toBe(1)
  })

  it('drops the connection for reset faults', async () => {
    gcs.failNext({ pathIncludes: '/o/reset-me', reset: true })
    await expect(call('GET', `/b/${BUCKET}/o/reset-me`)).rejects.toThrow()
    expect(gcs.requests().at(-1)).toMatchObject({ target: `/b/${BUCKET}/o/reset-me`, status: 0 })
  })

  it('refuses objects over maxObjectSize with 413 and stores nothing', async () => {
    const small = await startGcsServer({ maxObjectSize: 1024, buckets: ['tiny'] })
    try {
      const big = Buffer.alloc(2048, 1)
      const media = await raw(
        small.apiEndpoint,
        'POST',
        '/upload/storage/v1/b/tiny/o?uploadType=media&name=big',
        {
          body: big,
        },
      )
      expectGoogleError(media, 413, 'uploadTooLarge')
      const init = await raw(
        small.apiEndpoint,
        'POST',
        '/upload/storage/v1/b/tiny/o?uploadType=resumable&name=big',
      )
      const session = init.headers.location!.slice(small.apiEndpoint.length)
      const chunk = Buffer.alloc(1000, 2)
      expect(
        (
          await raw(small.apiEndpoint, 'PUT', session, {
            body: chunk,
            headers: { 'Content-Range': 'bytes 0-999/*' },
          })
        ).status,
      ).toBe(308)
      const over = await raw(small.apiEndpoint, 'PUT', session, {
        body: chunk,
        headers: { 'Content-Range': 'bytes 1000-1999/*' },
      })
      expectGoogleError(over, 413, 'uploadTooLarge')
      expect(small.readObject('tiny', 'big')).toBeUndefined()
    } finally {
      await small.stop()
    }
  })

  it('corrupts and deletes objects behind the client, and refuses to corrupt a missing one', async () => {
    await mediaUpload('victim', 'abc')
    gcs.corruptObject(BUCKET, 'victim')
    const response = await call('GET', `/b/${BUCKET}/o/victim?alt=media`)
    expect(response.body).toEqual(Buffer.from([0x61 ^ 0xff, 0x62, 0x63]))
    expect(response.headers['x-goog-hash']).toContain(crc32cBase64(crc32cUpdate(0, Buffer.from('abc'))))
    expect(() => gcs.corruptObject(BUCKET, 'no-such')).toThrow(/no object/)
    expect(gcs.deleteObject(BUCKET, 'victim')).toBe(true)
    expect(gcs.deleteObject(BUCKET, 'victim')).toBe(false)
  })

  it('stops listening on stop()', async () => {
    const short = await startGcsServer()
    await short.stop()
    await short.stop()
    await expect(raw(short.apiEndpoint, 'GET', '/b?project=test')).rejects.toThrow(/ECONNREFUSED/)
  })

  it('goes down (connections reset, port closed) and comes back up on the same port with the same data', async () => {
    const server = await startGcsServer({ buckets: ['kept'] })
    try {
      const put = await raw(
        server.apiEndpoint,
        'POST',
        '/upload/storage/v1/b/kept/o?uploadType=media&name=k',
        {
          body: 'survives',
        },
      )
      expect(put.status).toBe(200)
      // A request in flight when it goes down fails: its connection is reset.
      const init = await raw(
        server.apiEndpoint,
        'POST',
        '/upload/storage/v1/b/kept/o?uploadType=resumable&name=r',
      )
      const session = init.headers.location!.slice(server.apiEndpoint.length)
      const inFlight = new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${server.apiEndpoint}${session}`, {
          method: 'PUT',
          headers: { 'Content-Range': 'bytes 0-2/*' },
        })
        req.on('error', reject)
        req.on('response', () => resolve())
        req.write('abc', () => {
          server.down().catch(reject)
        })
      })
      await expect(inFlight).rejects.toThrow(/ECONNRESET|socket hang up/)
      await server.down()
      await expect(raw(server.apiEndpoint, 'GET', '/b/kept/o/k?alt=media')).rejects.toThrow(/ECONNREFUSED/)
      await server.up()
      await server.up()
      expect((await raw(server.apiEndpoint, 'GET', '/b/kept/o/k?alt=media')).body.toString()).toBe('survives')
      // The resumable session survived too, as it would on a real GCS.
      const status = await raw(server.apiEndpoint, 'PUT', session, {
        headers: { 'Content-Range': 'bytes */*' },
      })
      expect(status.status).toBe(308)
    } finally {
      await server.stop()
    }
    await expect(server.up()).rejects.toThrow(/stopped/)
  })
})
