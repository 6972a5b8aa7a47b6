import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { deflateRawSync, gzip as gzipSync, inflateRawSync } from 'node:zlib'
import { gzip } from '@xcom/compression'
import { type Codec, type CodecResolver, MemoryMetadataStore, XCom } from '@xcom/core'
import { chunked, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { FileObjectStore, MemoryObjectStore, ObjectStoreXComBackend } from '../src/index.ts'
import { expectBytes, fileXCom, ID, refOf, tempDir } from './helpers.ts'

const compressible = (size: number) => new Uint8Array(Buffer.alloc(size, 'xcom compresses well. '))
const gzipNode = promisify(gzipSync)

describe('compression', () => {
  it('compresses JSON that shrinks, names the codec in the key, the reference and the display', async () => {
    const { xcom, root } = fileXCom({ threshold: 0, compression: gzip() })
    const value = { rows: Array.from({ length: 2000 }, (_, index) => ({ index, label: 'the same label' })) }
    const record = await xcom.push(ID, value)
    const ref = refOf(record)
    expect(ref).toMatchObject({ codec: 'gzip', format: 'json', size: record.value.size })
    expect(ref.objectKey.endsWith(`${record.id}.json.gz`)).toBe(true)
    expect(ref.storedSize).toBeLessThan(ref.size / 5)
    const onDisk = readFileSync(join(root, ref.objectKey))
    expect([onDisk[0], onDisk[1]]).toEqual([0x1f, 0x8b])
    expect(onDisk.byteLength).toBe(ref.storedSize)
    expect(xcom.display(record)).toBe(`${ref.uri} (${ref.size} bytes, gzip)`)
    expect(await xcom.pull(ID)).toEqual(value)
  })

  it('stores values that do not shrink enough uncompressed, and says so in the reference', async () => {
    const { xcom } = fileXCom({ threshold: 0, compression: gzip() })
    const record = await xcom.push(ID, randomBytes(50_000))
    const ref = refOf(record)
    expect(ref).toMatchObject({ codec: 'none', compressionSkipped: 'gzip', storedSize: 50_000 })
    expect(ref.objectKey.endsWith(`${record.id}.bin`)).toBe(true)
    expectBytes(await xcom.pull(ID), randomBytes(50_000))
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

    const noise = randomBytes(3 * 1024 * 1024, 5)
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
    const path = join(root, ref.objectKey)
    const original = readFileSync(path)
    const damaged = Buffer.from(original)
    damaged[20] = (damaged[20] as number) ^ 0xff
    writeFileSync(path, damaged)
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    await expectXComError(readAll(await xcom.pullStream(ID)), 'E_CORRUPT')
    writeFileSync(path, original)
    await metadata.put({
      ...record,
      value: { ...record.value, ref: { ...ref, size: ref.size + 1 } } as typeof record.value,
    })
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    await expectXComError(readAll(await xcom.pullStream(ID)), 'E_CORRUPT')
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
    const error = await expectXComError(
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
    const own = await backend.readObject(refOf(record).objectKey)
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
    const path = join(root, refOf(record).objectKey)
    const damaged = readFileSync(path)
    damaged[10] = (damaged[10] as number) ^ 1
    writeFileSync(path, damaged)
    await expectXComError(backend.readObject(refOf(record).objectKey), 'E_CORRUPT')
    await expectXComError(backend.readObject('foreign/missing'), 'E_NOT_FOUND')
  })
})

describe('the codecs option', () => {
  /** A codec @xcom/compression does not know: a magic byte, then raw DEFLATE. */
  const MAGIC = 0xee
  const house: Codec = {
    name: 'house',
    suffix: '.house',
    compress: async (data) => new Uint8Array(Buffer.concat([Uint8Array.of(MAGIC), deflateRawSync(data)])),
    decompress: async (data) => new Uint8Array(inflateRawSync(data.subarray(1))),
    compressStream: () => {
      throw new Error('not used')
    },
    decompressStream: () => {
      throw new Error('not used')
    },
  }
  /** A resolver that knows only `house`, and records what it was asked. */
  const resolver = () => {
    const asked: string[] = []
    const codecs: CodecResolver = {
      byName: (name) => {
        asked.push(`name:${name}`)
        if (name === 'house') return house
        throw new Error(`no codec ${name}`)
      },
      bySuffix: (objectKey) => {
        asked.push(`suffix:${objectKey}`)
        return objectKey.endsWith('.house') ? house : undefined
      },
      byMagic: (head) => {
        asked.push(`magic:${head.byteLength}`)
        return head[0] === MAGIC ? house : undefined
      },
    }
    return { codecs, asked }
  }

  it('finds the codec a reference names through the given resolver, not @xcom/compression', async () => {
    const store = new MemoryObjectStore()
    const metadata = new MemoryMetadataStore()
    const writer = fileXCom({ threshold: 0, store, compression: house }, metadata)
    const record = await writer.xcom.push(ID, { text: 'z'.repeat(1000) })
    expect(refOf(record)).toMatchObject({ codec: 'house' })
    expect(refOf(record).objectKey.endsWith('.json.house')).toBe(true)
    const { codecs, asked } = resolver()
    const reader = fileXCom({ threshold: 0, store, codecs }, metadata)
    expect(reader.backend.codecs).toBe(codecs)
    expect(await reader.xcom.pull(ID)).toEqual({ text: 'z'.repeat(1000) })
    expect(asked).toEqual(['name:house'])
    // Without it, the default resolver (@xcom/compression) does not know the codec.
    const plain = fileXCom({ threshold: 0, store }, metadata)
    await expectXComError(plain.xcom.pull(ID), 'E_UNKNOWN_CODEC')
  })

  it('infers the codec of foreign objects in readObject by suffix, then magic bytes, through the given resolver', async () => {
    const { codecs, asked } = resolver()
    const store = new MemoryObjectStore()
    const backend = new ObjectStoreXComBackend({ store, codecs })
    const stored = await house.compress(new Uint8Array(Buffer.from('foreign text')))
    await store.put('foreign/by-suffix.house', stored)
    await store.put('foreign/by-magic', stored)
    for (const objectKey of ['foreign/by-suffix.house', 'foreign/by-magic']) {
      const read = await backend.readObject(objectKey)
      expect(read, objectKey).toMatchObject({ codec: 'house', verified: false })
      expect(Buffer.from(read.bytes).toString(), objectKey).toBe('foreign text')
    }
    expect(asked).toEqual([
      'suffix:foreign/by-suffix.house',
      'suffix:foreign/by-magic',
      `magic:${stored.byteLength}`,
    ])
  })

  it('refuses a codecs option that is not a CodecResolver', () => {
    const store = new MemoryObjectStore()
    for (const codecs of [{}, { byName: () => gzip() }, gzip()]) {
      expect(
        () => new ObjectStoreXComBackend({ store, codecs: codecs as unknown as CodecResolver }),
      ).toThrowError(expect.objectContaining({ code: 'E_CONFIG' }))
    }
  })
})
