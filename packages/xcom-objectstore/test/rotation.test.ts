import { gzip } from '@xcom/compression'
import { BaseXComBackend, MemoryMetadataStore, XCom, type XComRecord } from '@xcom/core'
import { aesGcmStream, generateKey, parseKeyList, staticKeys } from '@xcom/encryption'
import { chunked, expectXComError, randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { FileObjectStore, ObjectStoreXComBackend, type ObjectStoreXComBackendOptions } from '../src/index.ts'
import { expectBytes, ID, objectFiles, refOf, tempDir } from './helpers.ts'

const key = (id: string) =>
  parseKeyList(generateKey(id))[0] as NonNullable<ReturnType<typeof parseKeyList>[0]>
const [k1, k2] = [key('k1'), key('k2')]

/** Two XComs on one database and one directory: before rotation (k1 only, or no encryption) and after (k2, k1). */
function setup(before: Partial<ObjectStoreXComBackendOptions> = {}) {
  const root = tempDir()
  const store = new FileObjectStore({ root })
  const metadata = new MemoryMetadataStore()
  const common = { store, threshold: 100, compression: gzip() }
  const old = new XCom({
    metadata,
    backend: new ObjectStoreXComBackend({
      ...common,
      encryption: aesGcmStream({ keys: staticKeys([k1]) }),
      encryptInline: true,
      ...before,
    }),
  })
  const backend = new ObjectStoreXComBackend({
    ...common,
    encryption: aesGcmStream({ keys: staticKeys([k2, k1]) }),
    encryptInline: true,
  })
  const current = new XCom({ metadata, backend })
  const onlyNew = new XCom({
    metadata,
    backend: new ObjectStoreXComBackend({ ...common, encryption: aesGcmStream({ keys: staticKeys([k2]) }) }),
  })
  return { root, store, metadata, old, current, backend, onlyNew }
}

const values = {
  json: { rows: Array.from({ length: 500 }, (_, i) => ({ i, text: 'compressible text' })) },
  small: { tiny: true },
  noise: randomBytes(150_000, 3),
}

async function pushAll(xcom: XCom): Promise<void> {
  await xcom.push({ ...ID, key: 'json' }, values.json)
  await xcom.push({ ...ID, key: 'small' }, values.small)
  await xcom.push({ ...ID, key: 'noise' }, chunked(values.noise, 10_000))
}

async function expectAll(xcom: XCom): Promise<void> {
  expect(await xcom.pull({ ...ID, key: 'json' })).toEqual(values.json)
  expect(await xcom.pull({ ...ID, key: 'small' })).toEqual(values.small)
  expectBytes(await xcom.pull({ ...ID, key: 'noise' }), values.noise)
}

describe('XCom.rotateKeys', () => {
  it('re-encrypts objects and sealed rows under the new key, purges the old objects, and is idempotent', async () => {
    const { root, old, current, onlyNew, metadata } = setup()
    await pushAll(old)
    const filesBefore = objectFiles(root)
    expect(filesBefore).toHaveLength(2)
    const dry = await current.rotateKeys({ dagId: ID.dagId }, { dryRun: true })
    expect(dry).toMatchObject({
      dryRun: true,
      activeKeyId: 'k2',
      scanned: 3,
      rotated: 3,
      current: 0,
      malformed: 0,
    })
    await expectXComError(onlyNew.pull({ ...ID, key: 'json' }), 'E_CONFIG')
    const progress: number[] = []
    const report = await current.rotateKeys({}, { onProgress: ({ done }) => progress.push(done) })
    expect(report).toMatchObject({
      dryRun: false,
      scanned: 3,
      rotated: 3,
      current: 0,
      changed: 0,
      failedPurges: 0,
    })
    expect(progress).toEqual([1, 2, 3])
    await expectAll(onlyNew)
    const rows = await metadata.getMany({ dagId: ID.dagId })
    for (const row of rows.filter((r) => r.value.kind === 'reference')) expect(refOf(row).keyId).toBe('k2')
    expect(objectFiles(root)).toHaveLength(2)
    expect(objectFiles(root).some((file) => filesBefore.includes(file))).toBe(false)
    expect(await current.rotateKeys()).toMatchObject({ scanned: 3, rotated: 0, current: 3 })
  })

  it('encrypts values written before encryption was turned on', async () => {
    const { old, current, onlyNew, root } = setup({ encryption: undefined, encryptInline: false })
    await pushAll(old)
    const plain = objectFiles(root)
    expect(await current.rotateKeys()).toMatchObject({ rotated: 3 })
    await expectAll(onlyNew)
    expect(objectFiles(root).some((file) => plain.includes(file))).toBe(false)
  })

  it('leaves an XCom pushed meanwhile as the push left it (compare-and-swap), and removes its own new object', async () => {
    const { old, metadata, store, root } = setup()
    await old.push({ ...ID, key: 'json' }, values.json)
    class PushMeanwhile extends ObjectStoreXComBackend {
      override async reencrypt(...args: Parameters<ObjectStoreXComBackend['reencrypt']>) {
        const rewritten = await super.reencrypt(...args)
        await racing.push({ ...ID, key: 'json' }, { pushed: 'meanwhile' })
        return rewritten
      }
    }
    const encryption = aesGcmStream({ keys: staticKeys([k2, k1]) })
    const racing = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({ store, threshold: 0, encryption }),
    })
    const rotating = new XCom({ metadata, backend: new PushMeanwhile({ store, threshold: 0, encryption }) })
    expect(await rotating.rotateKeys()).toMatchObject({ rotated: 0, changed: 1 })
    expect(await racing.pull({ ...ID, key: 'json' })).toEqual({ pushed: 'meanwhile' })
    expect(objectFiles(root)).toHaveLength(1)
  })

  it('counts an XCom pushed after it was listed, whose old object is gone, as changed (not failed)', async () => {
    const { old, metadata, store } = setup()
    await old.push({ ...ID, key: 'json' }, values.json)
    const encryption = aesGcmStream({ keys: staticKeys([k2, k1]) })
    const racing = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({ store, threshold: 0, encryption }),
    })
    class PushFirst extends ObjectStoreXComBackend {
      override async reencrypt(...args: Parameters<ObjectStoreXComBackend['reencrypt']>) {
        await racing.push({ ...ID, key: 'json' }, { pushed: 'first' })
        return super.reencrypt(...args)
      }
    }
    const rotating = new XCom({ metadata, backend: new PushFirst({ store, threshold: 0, encryption }) })
    expect(await rotating.rotateKeys()).toMatchObject({ rotated: 0, changed: 1, failed: [] })
    expect(await racing.pull({ ...ID, key: 'json' })).toEqual({ pushed: 'first' })
  })

  it('reports an XCom it cannot re-encrypt, leaves its row, and finishes after a lost switch when run again', async () => {
    const { old, current, metadata, root, onlyNew } = setup()
    await pushAll(old)
    // The switch of the first XCom fails before it commits (a lost connection): its row is unchanged.
    const replaceIf = metadata.replaceIf.bind(metadata)
    let failures = 1
    metadata.replaceIf = async (record: XComRecord, expectedId: string) => {
      if (failures-- > 0) throw new Error('connection lost')
      return replaceIf(record, expectedId)
    }
    const report = await current.rotateKeys()
    expect(report.rotated).toBe(2)
    expect(report.failed).toHaveLength(1)
    expect(report.failed[0]?.message).toContain('connection lost')
    expect(objectFiles(root)).toHaveLength(2) // the new object of the failed switch was removed
    expect(await current.rotateKeys()).toMatchObject({ rotated: 1, failed: [] })
    await expectAll(onlyNew)
  })

  it('fails with E_CONFIG without encryption, and names a missing object without touching its row', async () => {
    const inline = new XCom({ metadata: new MemoryMetadataStore(), backend: new BaseXComBackend() })
    await expectXComError(inline.rotateKeys(), 'E_CONFIG')
    // Without keys it fails before reading any row, even when nothing is selected.
    const noKeys = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root: tempDir() }) }),
    })
    const error = await expectXComError(noKeys.rotateKeys({ dagId: 'none' }, { dryRun: true }), 'E_CONFIG')
    expect(error.message).toContain('XCOM_ENCRYPTION_KEYS')
    const { old, current, store, metadata } = setup()
    await old.push({ ...ID, key: 'json' }, values.json)
    const row = (await metadata.get({ ...ID, mapIndex: -1, key: 'json' })) as XComRecord
    await store.deleteMany([refOf(row).objectKey as string])
    const report = await current.rotateKeys()
    expect(report.failed[0]?.code).toBe('E_NOT_FOUND')
    expect((await metadata.get(row))?.id).toBe(row.id)
  })
})
