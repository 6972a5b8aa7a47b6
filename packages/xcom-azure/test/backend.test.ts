import { createHash, randomUUID } from 'node:crypto'
import { gzip } from '@xcom/compression'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import {
  CLAIM_KEY,
  DATABASE_META,
  type ObjectReference,
  ObjectStoreXComBackend,
  type ObjectStoreXComBackendOptions,
} from '@xcom/objectstore'
import { chunked, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { AzureBlobObjectStore } from '../src/index.ts'
import { type AzureTarget, azuriteFor, blobNames, realAzureSkipNote, realAzureTarget } from './support.ts'

const MiB = 1024 * 1024
const ID = { dagId: 'etl', runId: 'run-1', taskId: 'extract' }

const azurite = await azuriteFor('ObjectStoreXComBackend')
const real = realAzureTarget()
if (!real) console.info(realAzureSkipNote())

for (const target of [azurite, real]) {
  if (target) describeBackend(target)
}

function describeBackend(target: AzureTarget): void {
  describe(`ObjectStoreXComBackend on AzureBlobObjectStore (${target.name})`, () => {
    const container = target.service.getContainerClient(target.container)
    afterAll(async () => {
      for await (const item of container.listBlobsFlat({ prefix: `${target.runPrefix}/backend-` })) {
        await container.getBlobClient(item.name).deleteIfExists()
      }
    })

    /** An XCom on a fresh prefix of the target's container. */
    function setup(
      options: Partial<ObjectStoreXComBackendOptions> = {},
      storeOptions: { blockSize?: number } = {},
    ) {
      const prefix = `${target.runPrefix}/backend-${randomUUID().slice(0, 8)}`
      const store = new AzureBlobObjectStore({
        connectionString: target.connectionString,
        container: target.container,
        prefix,
        ...storeOptions,
      })
      const metadata = new MemoryMetadataStore()
      const backend = new ObjectStoreXComBackend({ threshold: 0, ...options, store })
      const xcom = new XCom({ metadata, backend })
      // Value blobs only: the prefix's database claim is left out.
      const names = async () =>
        (await blobNames(target.service, target.container, `${prefix}/`)).filter(
          (name) => name !== `${prefix}/${CLAIM_KEY}`,
        )
      const blobOf = (ref: ObjectReference) => container.getBlockBlobClient(`${prefix}/${ref.objectKey}`)
      return { xcom, store, metadata, prefix, names, blobOf }
    }

    async function refOf(xcom: XCom, identity = ID): Promise<ObjectReference> {
      const value = (await xcom.metadata.get({ mapIndex: -1, key: 'return_value', ...identity }))?.value
      if (value?.kind !== 'reference') throw new Error(`expected a reference, got ${JSON.stringify(value)}`)
      return value.ref as ObjectReference
    }

    it('keeps values up to the threshold inline and sends larger ones to a blob with xcom metadata', async () => {
      const { xcom, names, blobOf, prefix } = setup({ threshold: 100 })
      await xcom.push({ ...ID, taskId: 'small' }, { rows: [1, 2, 3] })
      expect(await names()).toEqual([])
      const large = { rows: Array.from({ length: 200 }, (_, index) => ({ index, name: `row ${index}` })) }
      await xcom.push(ID, large)
      const ref = await refOf(xcom)
      expect(ref.uri).toBe(`abfs://${target.container}/${prefix}/${ref.objectKey}`)
      expect(ref.objectKey.startsWith('etl/run-1/extract/-1/return_value/')).toBe(true)
      expect(await names()).toEqual([`${prefix}/${ref.objectKey}`])
      const properties = await blobOf(ref).getProperties()
      expect(properties.metadata).toMatchObject({
        xcomdagid: 'etl',
        xcomrunid: 'run-1',
        xcomtaskid: 'extract',
        xcomformat: 'json',
      })
      expect(properties.contentType).toBe('application/json')
      expect(await xcom.pull({ ...ID, taskId: 'small' })).toEqual({ rows: [1, 2, 3] })
      expect(await xcom.pull(ID)).toEqual(large)
    })

    it('compresses with gzip when it pays, and reads the value back', async () => {
      const { xcom, names } = setup({ compression: gzip() })
      const value = { text: 'the same words again and again '.repeat(5000) }
      await xcom.push(ID, value)
      const ref = await refOf(xcom)
      expect(ref.codec).toBe('gzip')
      expect(ref.objectKey.endsWith('.json.gz')).toBe(true)
      expect(ref.storedSize).toBeLessThan(ref.size / 10)
      expect((await names())[0]?.endsWith('.json.gz')).toBe(true)
      expect(await xcom.pull(ID)).toEqual(value)
    })

    it('purges the replaced blob on push, and every blob on clear', async () => {
      const { xcom, names, prefix } = setup()
      await xcom.push(ID, { version: 1 })
      const first = await refOf(xcom)
      await xcom.push(ID, { version: 2 })
      const second = await refOf(xcom)
      expect(second.objectKey).not.toBe(first.objectKey)
      expect(await names()).toEqual([`${prefix}/${second.objectKey}`])
      await xcom.push({ ...ID, taskId: 'other' }, { version: 3 })
      expect(await names()).toHaveLength(2)
      const report = await xcom.clear({ dagId: ID.dagId })
      expect(report).toMatchObject({ deleted: 2, purged: 2, failedPurges: 0 })
      expect(await names()).toEqual([])
    })

    it("gc deletes an orphan blob of its database and an uncommitted upload, keeping referenced, another database's and other blobs", async () => {
      const { store, prefix, names, metadata } = setup()
      const later = () => new Date(Date.now() + 60_000)
      const backend = new ObjectStoreXComBackend({ threshold: 0, store, now: later })
      const xcom = new XCom({ metadata, backend })
      await xcom.push(ID, { kept: true })
      const kept = await refOf(xcom)
      const database = await metadata.identity()
      const lost = new TextEncoder().encode('{"lost":1}')
      const otherDatabase = 'etl/run-0/extract/-1/return_value/other-record.json'
      await store.put('etl/run-0/extract/-1/return_value/orphan-record.json', lost, {
        metadata: { [DATABASE_META]: database.id },
      })
      await store.put(otherDatabase, lost, { metadata: { [DATABASE_META]: 'another-database' } })
      await store.put('notes/readme.txt', new TextEncoder().encode('not an xcom object'))
      // A push killed while staging blocks: an uncommitted blob.
      await container
        .getBlockBlobClient(`${prefix}/etl/run-0/extract/-1/return_value/killed-record.json`)
        .stageBlock(Buffer.from('block-0').toString('base64'), lost, lost.byteLength)
      const report = await xcom.gc({ graceMs: 0 })
      expect(report.sweep).toMatchObject({ deleted: 1, failed: [], foreign: 1, incomplete: 1 })
      expect(await names()).toEqual(
        [`${prefix}/${kept.objectKey}`, `${prefix}/${otherDatabase}`, `${prefix}/notes/readme.txt`].sort(),
      )
      const uncommitted: string[] = []
      for await (const item of container.listBlobsFlat({
        prefix: `${prefix}/etl/run-0/`,
        includeUncommitedBlobs: true,
      }))
        uncommitted.push(item.name)
      expect(uncommitted).toEqual([`${prefix}/${otherDatabase}`])
      expect(await xcom.pull(ID)).toEqual({ kept: true })
    })

    it('fails with E_CORRUPT when the blob was overwritten behind the backend (same size or not), keeping the row', async () => {
      const { xcom, blobOf } = setup()
      await xcom.push(ID, { secret: 'value', padding: 'x'.repeat(1000) })
      const ref = await refOf(xcom)
      const original = await blobOf(ref).downloadToBuffer()
      const flipped = Buffer.from(original)
      flipped[10] = (flipped[10] as number) ^ 0x01
      await blobOf(ref).uploadData(flipped)
      const error = await expectXComError(xcom.pull(ID), 'E_CORRUPT')
      expect(error.message).toContain(ref.uri)
      await blobOf(ref).uploadData(original.subarray(0, 100))
      await expectXComError(xcom.pull(ID), 'E_CORRUPT')
      // Refused when the stream opens (the size check) or while it is read: either way, never the bytes.
      await expectXComError((async () => readAll(await xcom.pullStream(ID)))(), 'E_CORRUPT')
      expect(await xcom.metadata.get({ ...ID, mapIndex: -1, key: 'return_value' })).toBeDefined()
      await blobOf(ref).uploadData(original)
      expect(await xcom.pull(ID)).toMatchObject({ secret: 'value' })
    })

    it('fails with E_NOT_FOUND naming the URI when the blob is gone, and never returns the reference', async () => {
      const { xcom, blobOf } = setup()
      await xcom.push(ID, { value: 42 })
      const ref = await refOf(xcom)
      await blobOf(ref).delete()
      const error = await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
      expect(`${error.message} ${error.uri}`).toContain(ref.uri)
      await expectXComError(xcom.pullStream(ID), 'E_NOT_FOUND')
      expect((await xcom.clear({ dagId: ID.dagId })).failedPurges).toBe(0)
    })

    it('streams a binary value in and out (pullStream), byte for byte', async () => {
      const { xcom } = setup()
      const bytes = randomBytes(3 * MiB + 5, 21)
      await xcom.push(ID, chunked(bytes, 256 * 1024))
      const ref = await refOf(xcom)
      expect(ref).toMatchObject({ format: 'bytes', size: bytes.byteLength, storedSize: bytes.byteLength })
      // Buffer.compare: vitest's deep equality walks megabytes element by element.
      expect(Buffer.compare(await readAll(await xcom.pullStream(ID)), bytes)).toBe(0)
      const pulled = await xcom.pull(ID)
      expect(pulled).toBeInstanceOf(Uint8Array)
      expect(Buffer.compare(pulled as Uint8Array, bytes)).toBe(0)
    })

    it('round-trips 12 MiB with blockSize 4 MiB, streamed and from memory, as committed blocks', async () => {
      const { xcom, blobOf } = setup({}, { blockSize: 4 * MiB })
      const bytes = randomBytes(12 * MiB + 3, 33)
      const digest = createHash('sha256').update(bytes).digest('hex')
      const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')
      await xcom.push({ ...ID, taskId: 'streamed' }, chunked(bytes, 1000 * 1000))
      await xcom.push({ ...ID, taskId: 'buffered' }, bytes)
      for (const taskId of ['streamed', 'buffered']) {
        const ref = await refOf(xcom, { ...ID, taskId })
        const blocks = await blobOf(ref).getBlockList('committed')
        expect(blocks.committedBlocks?.map((block) => block.size)).toEqual([4 * MiB, 4 * MiB, 4 * MiB, 3])
        expect(sha((await xcom.pull({ ...ID, taskId })) as Uint8Array)).toBe(digest)
        expect(sha(await readAll(await xcom.pullStream({ ...ID, taskId })))).toBe(digest)
      }
    })
  })
}
