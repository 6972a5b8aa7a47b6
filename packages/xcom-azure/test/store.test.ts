import { randomUUID } from 'node:crypto'
import { AccountSASPermissions, BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import { XComError } from '@xcom/core'
import { chunked, expectNoSecrets, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { AzureBlobObjectStore, type AzureBlobObjectStoreOptions } from '../src/index.ts'
import { azuriteFor, blobNames } from './support.ts'

const MiB = 1024 * 1024
const azurite = await azuriteFor('the AzureBlobObjectStore tests')

if (azurite) {
  const { service, container, connectionString } = azurite
  const accountKey = azurite.azurite?.accountKey as string
  const blobEndpoint = azurite.azurite?.blobEndpoint as string
  const raw = service.getContainerClient(container)

  /** A store on a fresh prefix of the test container. */
  const storeOn = (options: Partial<AzureBlobObjectStoreOptions> = {}) => {
    const prefix = `store-${randomUUID().slice(0, 8)}`
    const store = new AzureBlobObjectStore({ connectionString, container, prefix, ...options })
    return { store, prefix, names: () => blobNames(service, container, `${prefix}/`) }
  }

  /** A SAS URL of the account with the given permissions (e.g. "rl" for read and list only). */
  const sasOf = (permissions: string) => {
    const url = new URL(
      service.generateAccountSasUrl(
        new Date(Date.now() + 3_600_000),
        AccountSASPermissions.parse(permissions),
        'sco',
      ),
    )
    return { accountUrl: `${url.origin}${url.pathname}`, sasToken: url.search.slice(1) }
  }

  describe('AzureBlobObjectStore on azurite: layout and metadata', () => {
    it('names blobs <prefix>/<key>, shows a secret-free url, and lists keys without the prefix', async () => {
      const { store, prefix, names } = storeOn({ connectionId: 'my_conn' })
      expect(store.url).toBe(`abfs://my_conn@${container}/${prefix}`)
      await store.put('a/b.json', new Uint8Array([1, 2, 3]))
      await raw.getBlockBlobClient(`${prefix}-sibling/a/c.json`).uploadData(Buffer.from('x'))
      expect(await names()).toEqual([`${prefix}/a/b.json`])
      const listed = []
      for await (const info of store.list('a/')) listed.push(info.objectKey)
      expect(listed).toEqual(['a/b.json'])
      expect(store.url).not.toContain(accountKey)
    })

    it('maps metadata names to C# identifiers reversibly (xcom-dag-id <-> xcom_dag_id, others hex)', async () => {
      const { store, prefix } = storeOn()
      const metadata = {
        'xcom-dag-id': 'etl',
        xcomformat: 'json',
        a_b: 'underscore',
        '9lives': 'digit',
        'dot.name': 'dot',
      }
      await store.put('meta.json', new Uint8Array([1]), { metadata })
      const stored = (await raw.getBlobClient(`${prefix}/meta.json`).getProperties()).metadata ?? {}
      expect(Object.keys(stored).sort()).toEqual(
        ['__396c69766573', '__615f62', '__646f742e6e616d65', 'xcom_dag_id', 'xcomformat'].sort(),
      )
      expect((await store.head('meta.json'))?.metadata).toEqual(metadata)
      expect((await store.get('meta.json')).metadata).toEqual(metadata)
      for await (const info of store.list('meta')) expect(info.metadata).toEqual(metadata)
    })

    it('does not list directory placeholders of hierarchical-namespace accounts', async () => {
      const { store, prefix } = storeOn()
      await raw
        .getBlockBlobClient(`${prefix}/dir`)
        .uploadData(Buffer.alloc(0), { metadata: { hdi_isfolder: 'true' } })
      await store.put('dir/file.bin', new Uint8Array([7]))
      const keys = []
      for await (const info of store.list('')) keys.push(info.objectKey)
      expect(keys).toEqual(['dir/file.bin'])
    })
  })

  describe('AzureBlobObjectStore on azurite: uploads', () => {
    it('stages long streams as blocks of blockSize and reports progress up to the size', async () => {
      const { store, prefix } = storeOn({ blockSize: MiB, concurrency: 2 })
      const bytes = randomBytes(3 * MiB + 100, 4)
      const progress: number[] = []
      const { size } = await store.put('staged.bin', chunked(bytes, 300_000), {
        onProgress: (sent) => progress.push(sent),
      })
      expect(size).toBe(bytes.byteLength)
      const blocks = await raw.getBlockBlobClient(`${prefix}/staged.bin`).getBlockList('committed')
      expect(blocks.committedBlocks?.map((block) => block.size)).toEqual([MiB, MiB, MiB, 100])
      expect(progress.at(-1)).toBe(bytes.byteLength)
      expect([...progress].sort((a, b) => a - b)).toEqual(progress)
      expect(Buffer.compare(await (await store.get('staged.bin')).bytes(), bytes)).toBe(0)
    })

    it('refuses a conditional create of a staged stream over an existing blob, keeping the old one', async () => {
      const { store } = storeOn({ blockSize: MiB })
      const first = randomBytes(2 * MiB + 1, 1)
      await store.put('cond.bin', chunked(first, 100_000), { ifNoneMatch: true })
      const error = await expectXComError(
        store.put('cond.bin', chunked(randomBytes(2 * MiB + 1, 2), 100_000), { ifNoneMatch: true }),
        'E_PRECONDITION_FAILED',
      )
      expect(error.uri).toBe(`${store.url}/cond.bin`)
      expect(Buffer.compare(await (await store.get('cond.bin')).bytes(), first)).toBe(0)
      await expectXComError(
        store.put('cond.bin', randomBytes(10, 3), { ifNoneMatch: true }),
        'E_PRECONDITION_FAILED',
      )
      expect((await store.head('cond.bin'))?.size).toBe(first.byteLength)
    })

    it('stops a staged upload when aborted and commits nothing', async () => {
      const { store, names } = storeOn({ blockSize: MiB })
      const controller = new AbortController()
      async function* source(): AsyncGenerator<Uint8Array> {
        for (let index = 0; index < 6; index++) {
          if (index === 3) controller.abort(new Error('stop now'))
          yield randomBytes(MiB, index + 1)
        }
      }
      await expect(store.put('aborted.bin', source(), { signal: controller.signal })).rejects.toThrow(
        'stop now',
      )
      expect(await names()).toEqual([])
    })

    it('rethrows the body error as is when a staged stream breaks, committing nothing', async () => {
      const { store, names } = storeOn({ blockSize: MiB })
      const broken = new Error('the source broke')
      async function* source(): AsyncGenerator<Uint8Array> {
        yield randomBytes(2 * MiB, 1)
        throw broken
      }
      await expect(store.put('broken.bin', source())).rejects.toBe(broken)
      expect(await names()).toEqual([])
    })

    it("closes the caller's source when a staged upload fails on the service side", async () => {
      const store = new AzureBlobObjectStore({
        connectionString,
        container: 'no-such-container',
        blockSize: MiB,
      })
      let closed = false
      async function* source(): AsyncGenerator<Uint8Array> {
        try {
          for (let index = 0; index < 8; index++) yield randomBytes(MiB, index + 1)
        } finally {
          closed = true
        }
      }
      await expectXComError(store.put('k', source()), 'E_NOT_FOUND')
      expect(closed).toBe(true)
    })

    it('refuses a declared size over maxObjectSize with E_TOO_LARGE before sending anything', async () => {
      const { store, names } = storeOn({ blockSize: 1024 })
      expect(store.capabilities.maxObjectSize).toBe(1024 * 50_000)
      await expectXComError(
        store.put('huge.bin', randomBytes(10), { size: 1024 * 50_000 + 1 }),
        'E_TOO_LARGE',
      )
      expect(await names()).toEqual([])
    })

    it('refuses chunks that are not bytes with E_NOT_SERIALIZABLE', async () => {
      const { store, names } = storeOn()
      async function* numbers(): AsyncGenerator<unknown> {
        yield 42
      }
      await expectXComError(
        store.put('numbers.bin', numbers() as AsyncIterable<Uint8Array>),
        'E_NOT_SERIALIZABLE',
      )
      expect(await names()).toEqual([])
    })
  })

  describe('AzureBlobObjectStore on azurite: reads', () => {
    it('serves empty reads for ranges at or past the end, and of empty blobs', async () => {
      const { store } = storeOn()
      await store.put('ten.bin', randomBytes(10))
      await store.put('empty.bin', new Uint8Array(0))
      const ten = await store.get('ten.bin', { range: { start: 10 } })
      expect(ten.size).toBe(10)
      expect((await ten.bytes()).byteLength).toBe(0)
      expect(
        (await readAll((await store.get('empty.bin', { range: { start: 0, end: 99 } })).stream())).byteLength,
      ).toBe(0)
      const partial = await store.get('ten.bin', { range: { start: 8, end: 99 } })
      expect(partial.size).toBe(10)
      expect(await partial.bytes()).toEqual(randomBytes(10).slice(8))
      await expectXComError(store.get('ten.bin', { range: { start: 5, end: 4 } }), 'E_INVALID_KEY')
      await expectXComError(store.get('ten.bin', { range: { start: -1 } }), 'E_INVALID_KEY')
      await expectXComError(store.get('missing.bin', { range: { start: 3 } }), 'E_NOT_FOUND')
    })

    it('reads a large blob and a range across blocks as parallel ranges, in order', async () => {
      const { store } = storeOn({ blockSize: MiB, concurrency: 3 })
      const bytes = randomBytes(3 * MiB + MiB / 2, 8)
      await store.put('ranges.bin', bytes)
      const whole = await store.get('ranges.bin')
      expect(whole.size).toBe(bytes.byteLength)
      expect(Buffer.compare(await readAll(whole.stream()), bytes)).toBe(0)
      const range = await store.get('ranges.bin', { range: { start: 500_000, end: 2_600_000 } })
      expect(range.size).toBe(bytes.byteLength)
      expect(Buffer.compare(await range.bytes(), bytes.subarray(500_000, 2_600_001))).toBe(0)
      const tail = await store.get('ranges.bin', { range: { start: 3 * MiB } })
      expect(Buffer.compare(await tail.bytes(), bytes.subarray(3 * MiB))).toBe(0)
    })

    it('fails a read with E_PRECONDITION_FAILED when the blob is replaced half way, never mixing versions', async () => {
      const { store } = storeOn({ blockSize: MiB, concurrency: 1 })
      await store.put('replaced.bin', randomBytes(4 * MiB, 1))
      const reader = (await store.get('replaced.bin')).stream().getReader()
      await reader.read()
      await store.put('replaced.bin', randomBytes(4 * MiB, 2))
      const error = await expectXComError(
        (async () => {
          for (;;) if ((await reader.read()).done) return
        })(),
        'E_PRECONDITION_FAILED',
      )
      expect(error.message).toContain('replaced while it was being read')
    })

    it('stops downloading when the reader cancels', async () => {
      const { store } = storeOn({ blockSize: MiB, concurrency: 2 })
      await store.put('cancel.bin', randomBytes(5 * MiB, 3))
      const reader = (await store.get('cancel.bin')).stream().getReader()
      expect((await reader.read()).done).toBe(false)
      await reader.cancel()
      expect(Buffer.compare(await (await store.get('cancel.bin')).bytes(), randomBytes(5 * MiB, 3))).toBe(0)
    })

    it('lets a body be read once', async () => {
      const { store } = storeOn()
      await store.put('once.bin', randomBytes(5))
      const body = await store.get('once.bin')
      expect(await body.bytes()).toEqual(randomBytes(5))
      expect(() => body.stream()).toThrow(XComError)
    })
  })

  describe('AzureBlobObjectStore on azurite: deletes', () => {
    it('deletes more than one batch (256) of blobs at once', async () => {
      const { store, prefix, names } = storeOn()
      const keys = Array.from({ length: 300 }, (_, index) => `many/${String(index).padStart(3, '0')}`)
      for (let start = 0; start < keys.length; start += 50) {
        const slice = keys.slice(start, start + 50)
        await Promise.all(
          slice.map((key) => raw.getBlockBlobClient(`${prefix}/${key}`).uploadData(Buffer.from(key))),
        )
      }
      expect(await names()).toHaveLength(300)
      expect((await store.deleteMany([...keys, 'many/never-existed'])).failed).toEqual([])
      expect(await names()).toEqual([])
    })

    it('reports every key as E_PERMISSION_DENIED when the credentials may not delete, deleting nothing', async () => {
      const { store: writer, prefix, names } = storeOn()
      await writer.put('keep/a', randomBytes(3))
      await writer.put('keep/b', randomBytes(4))
      const readOnly = sasOf('rl')
      const reader = new AzureBlobObjectStore({
        ...readOnly,
        container,
        prefix,
        retryOptions: { maxTries: 1 },
      })
      const { failed } = await reader.deleteMany(['keep/a', 'keep/b'])
      expect(failed.map((failure) => failure.objectKey)).toEqual(['keep/a', 'keep/b'])
      for (const failure of failed) {
        expect(failure.error.code).toBe('E_PERMISSION_DENIED')
        expectNoSecrets(failure.error, [
          readOnly.sasToken,
          new URLSearchParams(readOnly.sasToken).get('sig') as string,
        ])
      }
      expect(await names()).toEqual([`${prefix}/keep/a`, `${prefix}/keep/b`])
    })

    it('treats keys of a missing container as already deleted', async () => {
      const store = new AzureBlobObjectStore({ connectionString, container: 'no-such-container' })
      expect((await store.deleteMany(['a', 'b'])).failed).toEqual([])
      expect((await store.deleteMany(['a'])).failed).toEqual([])
    })
  })

  describe('AzureBlobObjectStore on azurite: errors', () => {
    it('maps a wrong account key to E_PERMISSION_DENIED without the key anywhere, writing nothing', async () => {
      const wrongKey = Buffer.from(`not-the-key-${randomUUID()}`).toString('base64')
      const { prefix, names } = storeOn()
      const store = new AzureBlobObjectStore({
        accountUrl: blobEndpoint,
        accountName: 'devstoreaccount1',
        accountKey: wrongKey,
        container,
        prefix,
      })
      const errors = [
        await expectXComError(store.put('denied.bin', randomBytes(10)), 'E_PERMISSION_DENIED'),
        await expectXComError(store.get('denied.bin'), 'E_PERMISSION_DENIED'),
        await expectXComError(store.head('denied.bin'), 'E_PERMISSION_DENIED'),
        await expectXComError(
          (async () => {
            for await (const _ of store.list('')) break
          })(),
          'E_PERMISSION_DENIED',
        ),
        ...(await store.deleteMany(['x', 'y'])).failed.map((failure) => failure.error),
        await expectXComError(store.removeIncomplete(new Date()), 'E_PERMISSION_DENIED'),
      ]
      expect(errors).toHaveLength(7)
      for (const error of errors) {
        expect(error.code).toBe('E_PERMISSION_DENIED')
        expect(error.message).toContain(store.url)
        expectNoSecrets(error, [wrongKey, accountKey])
      }
      expect(await names()).toEqual([])
    })

    it('names the URI, never the SAS token, when a SAS may not write', async () => {
      const readOnly = sasOf('rl')
      const { prefix, names } = storeOn()
      const store = new AzureBlobObjectStore({
        ...readOnly,
        container,
        prefix,
        retryOptions: { maxTries: 1 },
      })
      const error = await expectXComError(store.put('sas.bin', randomBytes(10)), 'E_PERMISSION_DENIED')
      expect(error.uri).toBe(`${store.url}/sas.bin`)
      expectNoSecrets(error, [readOnly.sasToken, new URLSearchParams(readOnly.sasToken).get('sig') as string])
      expect(await names()).toEqual([])
    })

    it('reports a missing container as E_NOT_FOUND naming it, and head as undefined', async () => {
      const store = new AzureBlobObjectStore({
        connectionString,
        container: 'no-such-container',
        prefix: 'p',
      })
      const put = await expectXComError(store.put('k', randomBytes(3)), 'E_NOT_FOUND')
      expect(put.message).toContain('container does not exist')
      expect(put.message).toContain('abfs://no-such-container/p/k')
      await expectXComError(store.get('k'), 'E_NOT_FOUND')
      expect(await store.head('k')).toBeUndefined()
      await expectXComError(
        (async () => {
          for await (const _ of store.list('')) break
        })(),
        'E_NOT_FOUND',
      )
    })

    it('keeps the account key of a connection string out of every error and cause, for every operation', async () => {
      const wrongKey = Buffer.from(`wrong-key-${randomUUID()}`).toString('base64')
      const withWrongKey = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${wrongKey};BlobEndpoint=${blobEndpoint};`
      const { prefix, names } = storeOn()
      const store = new AzureBlobObjectStore({ connectionString: withWrongKey, container, prefix })
      const errors = [
        await expectXComError(store.put('k.bin', randomBytes(10)), 'E_PERMISSION_DENIED'),
        await expectXComError(
          store.put('k.bin', chunked(randomBytes(3 * MiB), MiB), { size: 3 * MiB }),
          'E_PERMISSION_DENIED',
        ),
        await expectXComError(store.get('k.bin'), 'E_PERMISSION_DENIED'),
        await expectXComError(store.head('k.bin'), 'E_PERMISSION_DENIED'),
        await expectXComError(store.removeIncomplete(new Date()), 'E_PERMISSION_DENIED'),
        ...(await store.deleteMany(['a'])).failed.map((failure) => failure.error),
      ]
      expect(errors).toHaveLength(6)
      for (const error of errors) expectNoSecrets(error, [wrongKey, withWrongKey])
      expect(await names()).toEqual([])
    })

    it('keeps the SAS of a connection string out of errors: refused writes and an unreachable endpoint', async () => {
      const readOnly = sasOf('rl')
      const signature = new URLSearchParams(readOnly.sasToken).get('sig') as string
      const { prefix, names } = storeOn()
      const refused = new AzureBlobObjectStore({
        connectionString: `BlobEndpoint=${blobEndpoint};SharedAccessSignature=${readOnly.sasToken}`,
        container,
        prefix,
        retryOptions: { maxTries: 1 },
      })
      const unreachable = new AzureBlobObjectStore({
        connectionString: `BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;SharedAccessSignature=${readOnly.sasToken}`,
        container,
        retryOptions: { maxTries: 1 },
      })
      const errors = [
        await expectXComError(refused.put('k.bin', randomBytes(10)), 'E_PERMISSION_DENIED'),
        ...(await refused.deleteMany(['a', 'b'])).failed.map((failure) => failure.error),
        await expectXComError(unreachable.put('k.bin', randomBytes(10)), 'E_BACKEND'),
        await expectXComError(unreachable.get('k.bin'), 'E_BACKEND'),
        await expectXComError(unreachable.removeIncomplete(new Date()), 'E_BACKEND'),
      ]
      expect(errors).toHaveLength(6)
      for (const error of errors) expectNoSecrets(error, [readOnly.sasToken, signature])
      expect(await names()).toEqual([])
    })

    it('maps an unreachable endpoint to E_BACKEND', async () => {
      const store = new AzureBlobObjectStore({
        accountUrl: 'http://127.0.0.1:1/devstoreaccount1',
        accountKey,
        container,
        retryOptions: { maxTries: 1 },
      })
      const error = await expectXComError(store.head('k'), 'E_BACKEND')
      expectNoSecrets(error, [accountKey])
    })
  })

  describe('AzureBlobObjectStore: construction', () => {
    it('uses a given ContainerClient or BlobServiceClient', async () => {
      const viaContainer = new AzureBlobObjectStore({ client: raw, prefix: 'given' })
      expect(viaContainer.url).toBe(`abfs://${container}/given`)
      await viaContainer.put('k', randomBytes(4))
      const viaService = new AzureBlobObjectStore({
        client: new BlobServiceClient(
          blobEndpoint,
          new StorageSharedKeyCredential('devstoreaccount1', accountKey),
        ),
        container,
        prefix: 'given',
        scheme: 'az',
      })
      expect(viaService.url).toBe(`az://${container}/given`)
      expect(await (await viaService.get('k')).bytes()).toEqual(randomBytes(4))
      await viaService.deleteMany(['k'])
    })

    it('derives the account name from an IP-style account URL for a key', async () => {
      const store = new AzureBlobObjectStore({
        accountUrl: `${blobEndpoint}/`,
        accountKey,
        container,
        prefix: 'derived',
      })
      await store.put('k', randomBytes(2))
      expect((await store.head('k'))?.size).toBe(2)
      await store.deleteMany(['k'])
    })

    it('refuses bad options with E_CONFIG, never echoing secrets', () => {
      const config = (options: AzureBlobObjectStoreOptions) => {
        try {
          new AzureBlobObjectStore(options)
        } catch (error) {
          expect(XComError.is(error, 'E_CONFIG')).toBe(true)
          return error as XComError
        }
        throw new Error('expected E_CONFIG')
      }
      expect(config({ connectionString }).message).toContain('needs a container')
      expect(config({ connectionString, container: 'Bad_Name' }).message).toContain(
        'Invalid Azure container name',
      )
      expect(config({ client: raw, container: 'another' }).message).toContain(
        `is for container "${container}"`,
      )
      expect(config({ connectionString, container, blockSize: 0 }).message).toContain('blockSize')
      expect(config({ container }).message).toContain('No Azure account')
      expect(config({ accountName: 'acct', container }).message).toContain('No Azure credentials')
      expect(config({ accountUrl: 'ftp://x', accountKey, container }).message).toContain('https://')
      const badString = `AccountKey=${accountKey};nonsense`
      const invalid = config({ connectionString: badString, container })
      expect(invalid.message).toContain('connection string')
      expectNoSecrets(invalid, [accountKey, badString])
    })
  })
}
