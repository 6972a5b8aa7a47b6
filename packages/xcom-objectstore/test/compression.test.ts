import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { gzip as gzipSync } from 'node:zlib'
import { gzip } from '@xcom/compression'
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { describe, expect, it } from 'vitest'
import { FileObjectStore, ObjectStoreXComBackend } from '../src/index.ts'
import { chunked, expectBytes, fileXCom, ID, pattern, readAll, refOf, rejection, tempDir } from './helpers.ts'

const compressible = (size: number) => new Uint8Array(Buffer.alloc(size, 'xcom compresses well. '))
const gzipNode = promisify(gzipSync)

describe('compression', () => {
  it('compresses JSON that shrinks, names the codec in the key, the reference and the display', async () => {
    const { xcom, root } = fileXCom({ threshold: 0, compression: gzip() })
    const value = { rows: Array.from({ length: 2000 }, (_, index) => ({ index, label: 'the same label' })) }
    const record = await xcom.push(ID, value)
    const ref = refOf(record)
    expect(ref).toMatchObject({ codec: 'gzip', format: 'json', size: record.value.size })
    expect(ref.key.endsWith(`${record.id}.json.gz`)).toBe(true)
    expect(ref.storedSize).toBeLessThan(ref.size / 5)
    const onDisk = readFileSync(join(root, ref.key))
    expect([onDisk[0], onDisk[1]]).toEqual([0x1f, 0x8b])
    expect(onDisk.byteLength).toBe(ref.storedSize)
    expect(xcom.display(record)).toBe(`${ref.uri} (${ref.size} bytes, gzip)`)
    expect(await xcom.pull(ID)).toEqual(value)
  })

  it('stores values that do not shrink enough uncompressed, and says so in the reference', async () => {
    const { xcom } = fileXCom({ threshold: 0, compression: gzip() })
    const record = await xcom.push(ID, pattern(50_000))
    const ref = refOf(record)
    expect(ref).toMatchObject({ codec: 'none', compressionSkipped: 'gzip', storedSize: 50_000 })
    expect(ref.key.endsWith(`${record.id}.bin`)).toBe(true)
    expectBytes(await xcom.pull(ID), pattern(50_000))
    const strict = fileXCom({ threshold: 0, compression: gzip(), minCompressionRatio: 0.0001 })
    expect(refOf(await strict.xcom.push(ID, 'a'.repeat(10_000)))).toMatchObject({
      codec: 'none',
      compressionSkipped: 'gzip',
    })
  })

  it('compresses streams on the fly when their first MiB shrinks, and skips it otherwise', async () => {
    const { xcom } = fileXCom({ threshold: 1024, compression: gzip() })
    const text = compressible(5 * 1024 * 1024 + 3)
    const shrinking = refOf(await xcom.push({ ...ID, key: 'text' }, chunked(text, 100_000)))
    expect(shrinking).toMatchObject({ codec: 'gzip', format: 'bytes', size: text.byteLength })
    expect(shrinking.storedSize).toBeLessThan(text.byteLength / 10)
    expectBytes(await xcom.pull({ ...ID, key: 'text' }), text)
    expectBytes(await readAll(await xcom.pullStream({ ...ID, key: 'text' })), text)

    const noise = pattern(3 * 1024 * 1024, 5)
    const skipped = refOf(await xcom.push({ ...ID, key: 'noise' }, chunked(noise, 64 * 1024)))
    expect(skipped).toMatchObject({ codec: 'none', compressionSkipped: 'gzip', storedSize: noise.byteLength })
    expectBytes(await readAll(await xcom.pullStream({ ...ID, key: 'noise' })), noise)
  })

  it('reads objects written with a codec the reading backend was not configured with', async () => {
    const root = tempDir()
    const metadata = new MemoryMetadataStore()
    const writer = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({
        store: new FileObjectStore({ root }),
        threshold: 0,
        compression: gzip(),
      }),
    })
    await writer.push(ID, { text: 'y'.repeat(10_000) })
    const reader = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 }),
    })
    expect(await reader.pull(ID)).toEqual({ text: 'y'.repeat(10_000) })
  })

  it('fails with E_CORRUPT when a compressed object is damaged or decompresses to another size', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom, root } = fileXCom({ threshold: 0, compression: gzip() }, metadata)
    const record = await xcom.push(ID, compressible(100_000))
    const ref = refOf(record)
    const path = join(root, ref.key)
    const original = readFileSync(path)
    const damaged = Buffer.from(original)
    damaged[20] = (damaged[20] as number) ^ 0xff
    writeFileSync(path, damaged)
    await rejection(xcom.pull(ID), 'E_CORRUPT')
    await rejection(readAll(await xcom.pullStream(ID)), 'E_CORRUPT')
    writeFileSync(path, original)
    await metadata.put({
      ...record,
      value: { ...record.value, ref: { ...ref, size: ref.size + 1 } } as typeof record.value,
    })
    await rejection(xcom.pull(ID), 'E_CORRUPT')
    await rejection(readAll(await xcom.pullStream(ID)), 'E_CORRUPT')
  })

  it('takes the codec from XCOM_OBJECTSTORAGE_COMPRESSION by name', async () => {
    const path = pathToFileURL(tempDir()).href
    const gz = await ObjectStoreXComBackend.fromEnv({
      XCOM_OBJECTSTORAGE_PATH: path,
      XCOM_OBJECTSTORAGE_COMPRESSION: 'GZIP',
    })
    expect(gz.compression?.name).toBe('gzip')
    const none = await ObjectStoreXComBackend.fromEnv({
      XCOM_OBJECTSTORAGE_PATH: path,
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION: 'None',
    })
    expect(none.compression).toBeUndefined()
    const error = await rejection(
      ObjectStoreXComBackend.fromEnv({
        XCOM_OBJECTSTORAGE_PATH: path,
        AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION: 'snappy',
      }),
      'E_CONFIG',
    )
    expect(error.message).toContain('AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION')
    expect(error.message).toContain('gzip')
  })

  it('reads objects without the database: verified by their metadata, or inferred by suffix and magic bytes', async () => {
    const { xcom, backend, root, store } = fileXCom({ threshold: 0, compression: gzip() })
    const record = await xcom.push(ID, { audit: 'me'.repeat(1000) })
    const own = await backend.readObject(refOf(record).key)
    expect(own).toMatchObject({ codec: 'gzip', verified: true })
    expect(JSON.parse(Buffer.from(own.bytes).toString())).toEqual({ audit: 'me'.repeat(1000) })
    expect(own.info.metadata.xcomrecordid).toBe(record.id)

    const zipped = await gzipNode(Buffer.from('foreign text'))
    await store.put('foreign/by-suffix.txt.gz', zipped)
    await store.put('foreign/by-magic', zipped)
    await store.put('foreign/plain.txt', Buffer.from('plain text'))
    for (const [key, codec, text] of [
      ['foreign/by-suffix.txt.gz', 'gzip', 'foreign text'],
      ['foreign/by-magic', 'gzip', 'foreign text'],
      ['foreign/plain.txt', 'none', 'plain text'],
    ] as const) {
      const read = await backend.readObject(key)
      expect(read, key).toMatchObject({ codec, verified: false })
      expect(Buffer.from(read.bytes).toString(), key).toBe(text)
    }
    const path = join(root, refOf(record).key)
    const damaged = readFileSync(path)
    damaged[10] = (damaged[10] as number) ^ 1
    writeFileSync(path, damaged)
    await rejection(backend.readObject(refOf(record).key), 'E_CORRUPT')
    await rejection(backend.readObject('foreign/missing'), 'E_NOT_FOUND')
  })
})
