import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzip } from '@xcom/compression'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { aesGcmStream, generateKey, parseKeyList, staticKeys } from '@xcom/encryption'
import { chunked, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { MemoryObjectStore, ObjectStoreXComBackend } from '../src/index.ts'
import { expectBytes, filesUnder, fileXCom, ID, objectFiles, refOf } from './helpers.ts'

const MARKER = 'MARKER-3f9c1e-customer-data'
const [oldKey, newKey] = [parseKeyList(generateKey('k-old'))[0], parseKeyList(generateKey('k-new'))[0]]
const encryptionWith = (...keys: NonNullable<typeof oldKey>[]) => aesGcmStream({ keys: staticKeys(keys) })
const sealed = encryptionWith(oldKey as NonNullable<typeof oldKey>)

/** Every byte the file store holds (objects, sidecars, claim) as one latin1 string, to search for plaintext. */
function storedText(root: string): string {
  return filesUnder(root)
    .map((path) => readFileSync(join(root, path)).toString('latin1'))
    .join('\n')
}

describe('encryption of stored objects', () => {
  it('round-trips JSON, compressed or not, bytes and streams, and no marker reaches the store', async () => {
    for (const compression of [undefined, gzip()]) {
      const { xcom, root } = fileXCom({ encryption: sealed, ...(compression ? { compression } : {}) })
      const json = { note: MARKER, rows: Array.from({ length: 2000 }, (_, i) => ({ i, name: MARKER })) }
      const bytes = Buffer.concat([Buffer.from(MARKER), Buffer.from(randomBytes(300_000))])
      await xcom.push({ ...ID, key: 'json' }, json)
      await xcom.push({ ...ID, key: 'bytes' }, bytes)
      await xcom.push({ ...ID, key: 'stream' }, chunked(bytes, 7001))
      expect(await xcom.pull({ ...ID, key: 'json' })).toEqual(json)
      expectBytes(await xcom.pull({ ...ID, key: 'bytes' }), bytes)
      expectBytes(await xcom.pull({ ...ID, key: 'stream' }), bytes)
      expectBytes(await readAll(await xcom.pullStream({ ...ID, key: 'stream' })), bytes)
      expect(storedText(root)).not.toContain(MARKER)
      expect(objectFiles(root)).toHaveLength(3)
    }
  })

  it('encrypts JSON larger than 8 MiB slice by slice while it is written, never as one buffer', async () => {
    const calls: string[] = []
    const counted = Object.assign(Object.create(sealed), {
      encrypt: (...args: Parameters<typeof sealed.encrypt>) => {
        calls.push('encrypt')
        return sealed.encrypt(...args)
      },
      encryptStream: (...args: Parameters<typeof sealed.encryptStream>) => {
        calls.push('encryptStream')
        return sealed.encryptStream(...args)
      },
    }) as typeof sealed
    const { xcom, backend } = fileXCom({ encryption: counted, store: new MemoryObjectStore() })
    const value = Array.from({ length: 130_000 }, (_, index) => ({
      index,
      note: `${MARKER} Zürich 😀 ${index}`,
    }))
    const record = await xcom.push(ID, value)
    const ref = refOf(record)
    expect(ref.size).toBeGreaterThan(8 * 1024 * 1024)
    expect(calls).toEqual(['encryptStream'])
    expect(ref.storedSize).toBe(sealed.encryptedSize(ref.size))
    expect(ref.keyId).toBe('k-old')
    const body = await backend.store.get(ref.objectKey)
    const stored = Buffer.from(await body.bytes())
    expect(stored.byteLength).toBe(ref.storedSize)
    expect(stored.includes(MARKER)).toBe(false)
    expect(await xcom.pull(ID)).toEqual(value)
    const tampered = Uint8Array.from(stored)
    tampered[5_000_000] = (tampered[5_000_000] as number) ^ 0x01
    await backend.store.put(ref.objectKey, tampered, { metadata: body.metadata })
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
  })

  it('encrypts incompressible values too: compression is skipped for them, encryption never', async () => {
    const { xcom, metadata } = fileXCom({ encryption: sealed, compression: gzip() })
    const noise = randomBytes(200_000, 7)
    const record = await xcom.push(ID, noise)
    const ref = refOf(record)
    expect(ref.compressionSkipped).toBe('gzip')
    expect(ref.encryption).toBe('aes256gcm-hkdf-stream-v1')
    expect(ref.keyId).toBe('k-old')
    expect(ref.storedSize).toBe(sealed.encryptedSize(noise.byteLength))
    expectBytes(await xcom.pull(ID), noise)
    expect((await metadata.get({ ...ID, mapIndex: -1, key: 'return_value' }))?.value.kind).toBe('reference')
  })

  it('records the encryption in the object metadata, and readObject decrypts by it', async () => {
    const { xcom, backend } = fileXCom({ encryption: sealed })
    const record = await xcom.push(ID, { note: MARKER })
    const read = await backend.readObject(refOf(record).objectKey as string)
    expect(read.info.metadata.xcomencryption).toBe('aes256gcm-hkdf-stream-v1')
    expect(read.info.metadata.xcomkeyid).toBe('k-old')
    expect(JSON.parse(Buffer.from(read.bytes).toString('utf8'))).toEqual({ note: MARKER })
  })

  it('keeps inline values in the clear unless encryptInline, then seals them in the row', async () => {
    const plain = fileXCom({ encryption: sealed, threshold: 1000 })
    expect((await plain.xcom.push(ID, { note: MARKER })).value).toMatchObject({ kind: 'inline' })
    const inline = fileXCom({ encryption: sealed, threshold: 1000, encryptInline: true })
    const record = await inline.xcom.push(ID, { note: MARKER })
    const bytes = await inline.xcom.push({ ...ID, key: 'bytes' }, Buffer.from(MARKER))
    expect(JSON.stringify([record.value, bytes.value])).not.toContain(MARKER)
    expect(record.value.kind === 'inline' && record.value.data.startsWith('xcom-encrypted:')).toBe(true)
    expect(inline.backend.display(record.value)).toMatch(/^\(encrypted inline value, \d+ bytes\)$/)
    expect(await inline.xcom.pull(ID)).toEqual({ note: MARKER })
    expect(Buffer.from((await inline.xcom.pull({ ...ID, key: 'bytes' })) as Uint8Array).toString()).toBe(
      MARKER,
    )
    expect(Buffer.from(await readAll(await inline.xcom.pullStream(ID))).toString()).toBe(
      JSON.stringify({ note: MARKER }),
    )
  })

  it('fails E_CORRUPT for a row or object moved to another XCom, or a sealed inline value damaged', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom, root } = fileXCom({ encryption: sealed, encryptInline: true, threshold: 100 }, metadata)
    const big = await xcom.push({ ...ID, key: 'a' }, { note: MARKER.repeat(20) })
    await xcom.push({ ...ID, key: 'b' }, { note: MARKER.repeat(20), other: true })
    // Another record's object copied over this one's (same XCom key shape, other record id): authentication fails.
    const other = refOf((await metadata.get({ ...ID, mapIndex: -1, key: 'b' })) as never)
    writeFileSync(
      join(root, refOf(big).objectKey as string),
      readFileSync(join(root, other.objectKey as string)),
    )
    await expectXComError(xcom.pull({ ...ID, key: 'a' }), 'E_CORRUPT')
    // A sealed inline row copied to another identity does not open there.
    const small = await xcom.push({ ...ID, key: 'small' }, { note: 'x' })
    await metadata.put({ ...small, key: 'copy', id: 'copied-record' })
    await expectXComError(xcom.pull({ ...ID, key: 'copy' }), 'E_CORRUPT')
    if (small.value.kind !== 'inline') throw new Error('expected inline')
    await metadata.put({
      ...small,
      value: { ...small.value, data: `${small.value.data.slice(0, -8)}AAAAAAA=` },
    })
    await expectXComError(xcom.pull({ ...ID, key: 'small' }), 'E_CORRUPT')
  })

  it('fails E_CONFIG naming the key id for a key it does not know, and without encryption configured', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom, store } = fileXCom({ encryption: sealed }, metadata)
    await xcom.push(ID, { note: MARKER })
    const otherKeys = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({
        store,
        threshold: 0,
        encryption: encryptionWith(newKey as never),
      }),
    })
    const error = await expectXComError(otherKeys.pull(ID), 'E_CONFIG')
    expect(error.message).toContain('k-old')
    const none = new XCom({ metadata, backend: new ObjectStoreXComBackend({ store, threshold: 0 }) })
    const missing = await expectXComError(none.pull(ID), 'E_CONFIG')
    expect(missing.message).toContain('XCOM_ENCRYPTION_KEYS')
    expect(missing.uri).toMatch(/^file:/)
  })

  it('encrypts new values with the first key and still reads values of the older ones', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom, store } = fileXCom({ encryption: sealed }, metadata)
    await xcom.push({ ...ID, key: 'before' }, { v: 1 })
    const rotated = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({
        store,
        threshold: 0,
        encryption: encryptionWith(newKey as never, oldKey as never),
      }),
    })
    const after = await rotated.push({ ...ID, key: 'after' }, { v: 2 })
    expect(refOf(after).keyId).toBe('k-new')
    expect(await rotated.pull({ ...ID, key: 'before' })).toEqual({ v: 1 })
    expect(await rotated.pull({ ...ID, key: 'after' })).toEqual({ v: 2 })
  })

  it('refuses encryptInline without encryption, and an encryption that is not one', () => {
    const store = fileXCom().store
    expect(() => new ObjectStoreXComBackend({ store, encryptInline: true })).toThrow(/encryptInline/)
    expect(() => new ObjectStoreXComBackend({ store, encryption: {} as never })).toThrow(/Encryption/)
  })
})
