import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Storage } from '@google-cloud/storage'
import { expectXComError } from '@xcom/testing'
import { JWT, PassThroughClient } from 'google-auth-library'
import { describe, expect, it } from 'vitest'
import { GcsObjectStore } from '../src/index.ts'
import { FAST_RETRIES, LOCAL_BUCKET, storeOn, useLocalTarget } from './targets.ts'

const bytesOf = (text: string) => new TextEncoder().encode(text)
const textOf = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** A private key that looks real enough to be a secret, but is not a valid key. */
const FAKE_KEY =
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n'
const SERVICE_ACCOUNT = {
  type: 'service_account',
  project_id: 'key-project',
  private_key_id: 'abc123',
  private_key: FAKE_KEY,
  client_email: 'xcom@key-project.iam.gserviceaccount.com',
}

const local = useLocalTarget()

describe('GcsObjectStore against the GCS test server', () => {
  it('lays objects out as <prefix>/<key> with metadata and content type, and strips the prefix in list', async () => {
    const store = storeOn(local())
    await store.put('dag/run/task/-1/key/id.json', bytesOf('{"a":1}'), {
      contentType: 'application/json',
      metadata: { xcomdagid: 'dag' },
    })
    const raw = local().server!.readObject(local().bucket, `${store.prefix}/dag/run/task/-1/key/id.json`)
    expect(raw?.toString()).toBe('{"a":1}')
    const [file] = await store.client
      .bucket(local().bucket)
      .file(`${store.prefix}/dag/run/task/-1/key/id.json`)
      .getMetadata()
    expect(file.contentType).toBe('application/json')
    expect(file.metadata).toEqual({ xcomdagid: 'dag' })
    expect(file.contentEncoding).toBeUndefined()
    const keys: string[] = []
    for await (const info of store.list('dag/')) keys.push(info.objectKey)
    expect(keys).toEqual(['dag/run/task/-1/key/id.json'])
    expect(store.url).toBe(`gs://${local().bucket}/${store.prefix}`)
  })

  it('returns the custom metadata from head, get and list alike (GCS listings carry it)', async () => {
    const store = storeOn(local())
    const metadata = { 'xcom-dag-id': 'etl', xcomformat: 'json', 'xcom-checksum': 'crc32:0a1b2c3d' }
    await store.put('dag/meta.json', bytesOf('{}'), { metadata })
    await store.put('dag/none.json', bytesOf('{}'))
    expect((await store.head('dag/meta.json'))?.metadata).toEqual(metadata)
    expect((await store.get('dag/meta.json')).metadata).toEqual(metadata)
    const listed: Record<string, Record<string, string>> = {}
    for await (const info of store.list('dag/')) listed[info.objectKey] = info.metadata
    expect(listed).toEqual({ 'dag/meta.json': metadata, 'dag/none.json': {} })
  })

  it('works without a prefix', async () => {
    const store = new GcsObjectStore({ bucket: local().bucket, ...local().options })
    const key = `no-prefix-${randomUUID()}`
    await store.put(key, bytesOf('x'))
    expect(local().server!.readObject(local().bucket, key)?.toString()).toBe('x')
    const keys: string[] = []
    for await (const info of store.list(key)) keys.push(info.objectKey)
    expect(keys).toEqual([key])
    expect((await store.deleteMany([key])).failed).toEqual([])
  })

  it('refuses a conditional create over an existing object on the resumable path too (412), keeping the first', async () => {
    const store = storeOn(local(), { resumableThreshold: 0 })
    await store.put('k', bytesOf('first'), { ifNoneMatch: true })
    const error = await expectXComError(
      store.put('k', bytesOf('second'), { ifNoneMatch: true }),
      'E_PRECONDITION_FAILED',
    )
    expect(error.message).toContain(store.uriOf('k'))
    expect(textOf(await (await store.get('k')).bytes())).toBe('first')
  })

  it('retries a transient 503 on a create-only multipart upload', async () => {
    const store = storeOn(local())
    const fault = local().server!.failNext({
      method: 'POST',
      pathIncludes: 'uploadType=multipart',
      status: 503,
    })
    expect((await store.put('retried', bytesOf('small'), { ifNoneMatch: true })).size).toBe(5)
    expect(fault.hits).toBe(1)
    expect(textOf(await (await store.get('retried')).bytes())).toBe('small')
  })

  it('retries a transient 503 on the start of a create-only resumable upload', async () => {
    const store = storeOn(local(), { resumableThreshold: 0 })
    const fault = local().server!.failNext({
      method: 'POST',
      pathIncludes: 'uploadType=resumable',
      status: 503,
    })
    const body = new Uint8Array(300_000).fill(7)
    expect((await store.put('retried', body, { ifNoneMatch: true })).size).toBe(body.byteLength)
    expect(fault.hits).toBe(1)
    expect((await store.head('retried'))?.size).toBe(body.byteLength)
  })

  it('fails with E_BACKEND once the retries are spent, writing nothing', async () => {
    const store = storeOn(local(), { maxRetries: 1 })
    const fault = local().server!.failNext({
      method: 'POST',
      pathIncludes: 'uploadType=multipart',
      status: 500,
      times: 2,
    })
    const error = await expectXComError(store.put('never', bytesOf('x'), { ifNoneMatch: true }), 'E_BACKEND')
    expect(fault.hits).toBe(2)
    expect(error.message).toContain('HTTP 500')
    expect(await store.head('never')).toBeUndefined()
  })

  it('maps 403 to E_PERMISSION_DENIED on writes, reads and deletes (per key), losing nothing', async () => {
    const store = storeOn(local())
    await store.put('kept', bytesOf('data'))
    local().server!.failNext({ method: 'POST', pathIncludes: 'uploadType=multipart', status: 403 })
    await expectXComError(store.put('denied', bytesOf('x')), 'E_PERMISSION_DENIED')
    expect(await store.head('denied')).toBeUndefined()
    local().server!.failNext({ method: 'GET', pathIncludes: '/o/', status: 403 })
    await expectXComError(store.get('kept'), 'E_PERMISSION_DENIED')
    local().server!.failNext({ method: 'DELETE', pathIncludes: 'kept', status: 403 })
    await store.put('other', bytesOf('y'))
    const { failed } = await store.deleteMany(['kept', 'other'])
    expect(failed.map(({ objectKey, error }) => [objectKey, error.code])).toEqual([
      ['kept', 'E_PERMISSION_DENIED'],
    ])
    expect(textOf(await (await store.get('kept')).bytes())).toBe('data')
    expect(await store.head('other')).toBeUndefined()
  })

  it('names a missing bucket in E_NOT_FOUND instead of answering "no object"', async () => {
    const store = new GcsObjectStore({ bucket: `missing-${randomUUID()}`, ...local().options })
    const write = await expectXComError(store.put('k', bytesOf('x')), 'E_NOT_FOUND')
    expect(write.message).toContain('bucket')
    const head = await expectXComError(store.head('k'), 'E_NOT_FOUND')
    expect(head.message).toContain('bucket')
    await expectXComError(
      (async () => {
        for await (const _ of store.list('')) {
          /* nothing */
        }
      })(),
      'E_NOT_FOUND',
    )
  })

  it('fails with E_CORRUPT when the stored bytes no longer match their crc32c, as bytes and as a stream', async () => {
    const store = storeOn(local())
    await store.put('k', new Uint8Array(100_000).fill(1))
    local().server!.corruptObject(local().bucket, store.objectName('k'))
    await expectXComError((await store.get('k')).bytes(), 'E_CORRUPT')
    await expectXComError(new Response((await store.get('k')).stream()).arrayBuffer(), 'E_CORRUPT')
  })

  it('pins a read to the generation it opened: an overwrite before reading gives E_NOT_FOUND, never mixed bytes', async () => {
    const store = storeOn(local())
    await store.put('k', bytesOf('version one'))
    const opened = await store.get('k')
    expect(opened.size).toBe(11)
    await store.put('k', bytesOf('version two!'))
    await expectXComError(opened.bytes(), 'E_NOT_FOUND')
    const deleted = await store.get('k')
    local().server!.deleteObject(local().bucket, store.objectName('k'))
    const error = await expectXComError(deleted.bytes(), 'E_NOT_FOUND')
    expect(error.message).toContain(store.uriOf('k'))
  })

  it('serves ranges past the end as empty, and refuses invalid ranges with E_INVALID_KEY before any request', async () => {
    const store = storeOn(local())
    await store.put('k', bytesOf('0123456789'))
    expect((await (await store.get('k', { range: { start: 10 } })).bytes()).byteLength).toBe(0)
    expect(textOf(await (await store.get('k', { range: { start: 8, end: 100 } })).bytes())).toBe('89')
    await expectXComError(store.get('k', { range: { start: 5, end: 2 } }), 'E_INVALID_KEY')
    await expectXComError(store.get('k', { range: { start: -1 } }), 'E_INVALID_KEY')
  })

  it('reports progress and honours an abort before the upload starts', async () => {
    const store = storeOn(local(), { resumableThreshold: 0 })
    const seen: number[] = []
    await store.put('k', new Uint8Array(3 * 1024 * 1024), { onProgress: (sent) => seen.push(sent) })
    expect(seen.length).toBeGreaterThan(1)
    expect(seen.at(-1)).toBe(3 * 1024 * 1024)
    const controller = new AbortController()
    controller.abort(new Error('stopped by the test'))
    await expect(store.put('aborted', bytesOf('x'), { signal: controller.signal })).rejects.toThrow(
      'stopped by the test',
    )
    expect(await store.head('aborted')).toBeUndefined()
  })

  it('streams a body in one PUT with chunkSize 0', async () => {
    const store = storeOn(local(), { chunkSize: 0, resumableThreshold: 0 })
    const body = new Uint8Array(3 * 1024 * 1024 + 1).map((_, index) => index % 253)
    expect((await store.put('k', body)).size).toBe(body.byteLength)
    expect(Buffer.compare(await (await store.get('k')).bytes(), body)).toBe(0)
  })

  it('refuses empty keys with E_INVALID_KEY', async () => {
    const store = storeOn(local())
    await expectXComError(store.put('', bytesOf('x')), 'E_INVALID_KEY')
    await expectXComError(store.head(''), 'E_INVALID_KEY')
  })

  it('uses a ready Storage as it is, and the SDK default client keeps retrying after a write without precondition', async () => {
    const storage = new Storage({
      apiEndpoint: local().server!.apiEndpoint,
      projectId: 'test',
      retryOptions: FAST_RETRIES,
    })
    const store = new GcsObjectStore({
      client: storage,
      bucket: LOCAL_BUCKET,
      prefix: `ready-${randomUUID()}`,
    })
    expect(store.client).toBe(storage)
    // A small write without precondition on a RetryConditional client: the store must not use save(), which would
    // switch retries off for the whole client (SDK state leak).
    await store.put('k', bytesOf('plain'))
    expect(storage.retryOptions.autoRetry).toBe(true)
    const fault = local().server!.failNext({ method: 'GET', pathIncludes: '/o/', status: 503 })
    expect((await store.head('k'))?.size).toBe(5)
    expect(fault.hits).toBe(1)
    await store.close()
    expect((await store.head('k'))?.size).toBe(5)
  })
})

describe('GcsObjectStore options and credentials', () => {
  it('refuses a missing bucket and out-of-range numbers with E_CONFIG', async () => {
    await expectXComError(() => new GcsObjectStore({ bucket: '' }), 'E_CONFIG')
    await expectXComError(
      () => new GcsObjectStore({ bucket: 'b', chunkSize: -1, apiEndpoint: 'http://127.0.0.1:1' }),
      'E_CONFIG',
    )
    await expectXComError(
      () => new GcsObjectStore({ bucket: 'b', deleteConcurrency: 1.5, apiEndpoint: 'http://127.0.0.1:1' }),
      'E_CONFIG',
    )
    await expectXComError(
      () => new GcsObjectStore({ bucket: 'b', resumableThreshold: -1, apiEndpoint: 'http://127.0.0.1:1' }),
      'E_CONFIG',
    )
    await expectXComError(
      () => new GcsObjectStore({ bucket: 'b', pageSize: 0, apiEndpoint: 'http://127.0.0.1:1' }),
      'E_CONFIG',
    )
  })

  it('builds a JWT client from a service account key (keyfile_dict), with scopes and quota project', async () => {
    const store = new GcsObjectStore({
      bucket: 'b',
      credentials: SERVICE_ACCOUNT,
      scopes: ['https://www.googleapis.com/auth/devstorage.read_write'],
      quotaProjectId: 'billing',
    })
    const client = await store.client.authClient.getClient()
    expect(client).toBeInstanceOf(JWT)
    expect((client as JWT).email).toBe(SERVICE_ACCOUNT.client_email)
    expect((client as JWT).scopes).toEqual(['https://www.googleapis.com/auth/devstorage.read_write'])
    expect(client.quotaProjectId).toBe('billing')
    expect(store.client.projectId).toBe('key-project')
  })

  it('reads a key file (key_path) once, at construction', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xcom-gcs-key-'))
    try {
      writeFileSync(join(dir, 'key.json'), JSON.stringify(SERVICE_ACCOUNT))
      const store = new GcsObjectStore({
        bucket: 'b',
        keyFilename: join(dir, 'key.json'),
        projectId: 'explicit',
      })
      expect(await store.client.authClient.getClient()).toBeInstanceOf(JWT)
      expect(store.client.projectId).toBe('explicit')
      writeFileSync(join(dir, 'bad.json'), `not json ${FAKE_KEY}`)
      const error = await expectXComError(
        () => new GcsObjectStore({ bucket: 'b', keyFilename: join(dir, 'bad.json') }),
        'E_CONFIG',
      )
      expect(error.message).not.toContain('TOPSECRET')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const missing = await expectXComError(
      () => new GcsObjectStore({ bucket: 'b', keyFilename: '/nonexistent/key.json' }),
      'E_CONFIG',
    )
    expect(missing.message).toContain('/nonexistent/key.json')
  })

  it('sends no credentials when anonymous', async () => {
    const store = new GcsObjectStore({ bucket: 'b', anonymous: true })
    expect(await store.client.authClient.getClient()).toBeInstanceOf(PassThroughClient)
  })

  it('an unusable private key fails with E_CONFIG whose message and cause hold no key material', async () => {
    // The default endpoint makes the SDK sign a token request first; signing fails locally, before any network.
    const store = new GcsObjectStore({ bucket: 'b', credentials: SERVICE_ACCOUNT })
    const error = await expectXComError(store.head('k'), 'E_CONFIG')
    const shown = `${error.message} ${String(error.cause)} ${JSON.stringify(error.cause)}`
    expect(shown).not.toContain('TOPSECRET')
    expect(shown).not.toContain('BEGIN PRIVATE KEY')
  })

  it('talks to the test server with a service account key: custom endpoints are not authenticated', async () => {
    const store = storeOn(local(), { credentials: SERVICE_ACCOUNT })
    await store.put('k', bytesOf('ok'))
    expect(textOf(await (await store.get('k')).bytes())).toBe('ok')
  })
})
