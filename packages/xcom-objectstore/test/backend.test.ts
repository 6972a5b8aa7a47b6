import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import { MemoryMetadataStore, type StoredValue, XCom, type XComRecord } from '@xcom/core'
import { chunked, expectXComError, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { checksumOf } from '../src/checksum.ts'
import {
  CLAIM_KEY,
  FileObjectStore,
  isObjectKey,
  MemoryObjectStore,
  ObjectStoreXComBackend,
} from '../src/index.ts'
import { collect, expectBytes, fileXCom, ID, objectFiles, refOf, tmpFiles } from './helpers.ts'

const kindOf = (record: XComRecord) => record.value.kind

describe('threshold', () => {
  it('keeps JSON whose UTF-8 size equals the threshold inline and sends threshold + 1 to the store', async () => {
    const { xcom, backend, root } = fileXCom({ threshold: 10 })
    // "ééé" is 6 UTF-8 bytes + 2 quotes = 8 characters of JSON but 8 bytes; measure with the serializer itself.
    const atLimit = 'éééé' // 4 characters, 10 bytes as JSON
    const overLimit = 'éééé1'
    expect(Buffer.byteLength(backend.serializer.serialize(atLimit))).toBe(10)
    expect(Buffer.byteLength(backend.serializer.serialize(overLimit))).toBe(11)
    const inline = await xcom.push({ ...ID, key: 'at' }, atLimit)
    expect(inline.value).toEqual({ kind: 'inline', data: '"éééé"', size: 10 })
    const referenced = await xcom.push({ ...ID, key: 'over' }, overLimit)
    expect(kindOf(referenced)).toBe('reference')
    expect(referenced.value.size).toBe(11)
    expect(objectFiles(root)).toHaveLength(1)
    expect(await xcom.pull({ ...ID, key: 'at' })).toBe(atLimit)
    expect(await xcom.pull({ ...ID, key: 'over' })).toBe(overLimit)
  })

  it('applies the same boundary to bytes, buffers and streams', async () => {
    const { xcom } = fileXCom({ threshold: 8 })
    const cases: [string, () => unknown, 'inline' | 'reference'][] = [
      ['u8-at', () => randomBytes(8), 'inline'],
      ['u8-over', () => randomBytes(9), 'reference'],
      ['buffer-at', () => Buffer.from(randomBytes(8)), 'inline'],
      ['buffer-over', () => Buffer.from(randomBytes(9)), 'reference'],
      ['stream-at', () => chunked(randomBytes(8), 3), 'inline'],
      ['stream-over', () => chunked(randomBytes(9), 3), 'reference'],
      ['web-over', () => Readable.toWeb(Readable.from([Buffer.from(randomBytes(9))])), 'reference'],
    ]
    for (const [key, make, kind] of cases) {
      const record = await xcom.push({ ...ID, key }, make())
      expect(kindOf(record), key).toBe(kind)
      const size = key.endsWith('at') ? 8 : 9
      const pulled = await xcom.pull({ ...ID, key })
      expect(pulled, key).toEqual(randomBytes(size))
      expect(Object.getPrototypeOf(pulled), key).toBe(Uint8Array.prototype)
    }
  })

  it('keeps everything inline with -1 and sends everything but empty values to the store with 0', async () => {
    const inlineAll = fileXCom({ threshold: -1 })
    const big = 'x'.repeat(1_000_000)
    expect(kindOf(await inlineAll.xcom.push(ID, big))).toBe('inline')
    expect(kindOf(await inlineAll.xcom.push({ ...ID, key: 'bytes' }, randomBytes(100_000)))).toBe('inline')
    expect(
      kindOf(await inlineAll.xcom.push({ ...ID, key: 'stream' }, chunked(randomBytes(100_000), 4096))),
    ).toBe('inline')
    expect(await inlineAll.xcom.pull({ ...ID, key: 'stream' })).toEqual(randomBytes(100_000))
    expect(objectFiles(inlineAll.root)).toEqual([])

    const objectsAll = fileXCom({ threshold: 0 })
    expect(kindOf(await objectsAll.xcom.push(ID, 1))).toBe('reference')
    expect(kindOf(await objectsAll.xcom.push({ ...ID, key: 'null' }, null))).toBe('reference')
    expect(kindOf(await objectsAll.xcom.push({ ...ID, key: 'empty-bytes' }, new Uint8Array(0)))).toBe(
      'inline',
    )
    expect(
      kindOf(await objectsAll.xcom.push({ ...ID, key: 'empty-stream' }, chunked(new Uint8Array(0), 1))),
    ).toBe('inline')
    expect(await objectsAll.xcom.pull({ ...ID, key: 'null' })).toBeNull()
    expect(await objectsAll.xcom.pull({ ...ID, key: 'empty-stream' })).toEqual(new Uint8Array(0))
  })

  it('reads a stream only up to threshold + 1 bytes before deciding', async () => {
    const store = new MemoryObjectStore()
    const put = store.put.bind(store)
    let pulled = 0
    let pulledWhenWriting = -1
    store.put = (key, body, options) => {
      pulledWhenWriting = pulled
      return put(key, body, options)
    }
    async function* source() {
      for (let index = 0; index < 10; index++) {
        pulled++
        yield randomBytes(4, index + 1)
      }
    }
    const { xcom } = fileXCom({ threshold: 6, store })
    expect(kindOf(await xcom.push(ID, source()))).toBe('reference')
    expect(pulledWhenWriting).toBe(2) // 8 bytes > 6: decided after two 4-byte chunks
    expect(pulled).toBe(10)
    expect(((await xcom.pull(ID)) as Uint8Array).byteLength).toBe(40)
  })
})

describe('values and references', () => {
  it('round-trips JSON values and records size, stored size, codec, format, checksum and the key layout', async () => {
    const { xcom, root, store } = fileXCom({ threshold: 0 })
    const value = { rows: [1, 2, 3], when: new Date('2024-01-02T03:04:05Z'), tags: new Set(['a']) }
    const record = await xcom.push({ ...ID, mapIndex: 3, key: 'rows' }, value)
    const ref = refOf(record)
    expect(ref).toMatchObject({
      objectKey: `dag/run/task/3/rows/${record.id}.json`,
      uri: `${store.url}/dag/run/task/3/rows/${record.id}.json`,
      codec: 'none',
      format: 'json',
    })
    expect(ref.checksum).toBe(checksumOf(readFileSync(join(root, ref.objectKey)), 'crc32'))
    expect(ref.plainJson).toBeUndefined() // the Date and the Set are envelopes
    expect(ref.size).toBe(ref.storedSize)
    expect(ref.size).toBe(record.value.size)
    expect(new Date(ref.createdAt).getTime()).not.toBeNaN()
    expect(readFileSync(join(root, ref.objectKey), 'utf8')).toBe(
      new ObjectStoreXComBackend({ store }).serializer.serialize(value),
    )
    expect(await xcom.pull({ ...ID, mapIndex: 3, key: 'rows' })).toEqual(value)
  })

  it('reads plain JSON back with JSON.parse alone, and values with envelopes through the decoder', async () => {
    const { xcom, backend } = fileXCom({ threshold: 0 })
    const calls: unknown[] = []
    const deserialize = backend.serializer.deserialize.bind(backend.serializer)
    backend.serializer.deserialize = (text, options) => {
      calls.push(options?.plain)
      return deserialize(text, options)
    }
    await xcom.push(ID, { rows: [1, 2, 3] })
    await xcom.push({ ...ID, key: 'dated' }, { when: new Date(0) })
    expect(await xcom.pull(ID)).toEqual({ rows: [1, 2, 3] })
    expect(await xcom.pull({ ...ID, key: 'dated' })).toEqual({ when: new Date(0) })
    expect(calls).toEqual([true, false])
  })

  it('round-trips JSON larger than 8 MiB (written and read slice by slice) with multi-byte characters', async () => {
    for (const store of [undefined, new MemoryObjectStore()]) {
      const { xcom, backend } = fileXCom({ threshold: 1000, ...(store ? { store } : {}) })
      const value = Array.from({ length: 60_000 }, (_, index) => ({
        index,
        city: 'Zürich 😀 ∑',
        note: `n${index}`.repeat(20),
      }))
      const record = await xcom.push(ID, value)
      const ref = refOf(record)
      const text = backend.serializer.serialize(value)
      expect(ref.size).toBe(Buffer.byteLength(text))
      expect(ref.size).toBeGreaterThan(8 * 1024 * 1024)
      const body = await backend.store.get(ref.objectKey)
      const stored = await body.bytes()
      expect(Buffer.from(stored).toString('utf8')).toBe(text)
      expect(ref.checksum).toBe(checksumOf(stored, 'crc32'))
      expect(ref.plainJson).toBe(true)
      expect(await xcom.pull(ID)).toEqual(value)
      const tampered = Uint8Array.from(stored)
      tampered[5_000_000] = (tampered[5_000_000] as number) ^ 0x01
      await backend.store.put(ref.objectKey, tampered, { metadata: body.metadata })
      await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    }
  })

  it('hashes a large buffer first and hands it over whole to a store that asks so, else streams it through the hash', async () => {
    class WholeBufferStore extends MemoryObjectStore {
      override readonly capabilities = { ...new MemoryObjectStore().capabilities, wholeBufferPut: true }
    }
    const bytes = randomBytes(9 * 1024 * 1024, 2)
    const cases = [
      { store: new WholeBufferStore(), checksum: 'crc32', whole: true },
      { store: new WholeBufferStore(), checksum: 'sha256', whole: false },
      { store: new MemoryObjectStore(), checksum: 'crc32', whole: false },
    ] as const
    for (const { store, checksum, whole } of cases) {
      const bodies: unknown[] = []
      const put = store.put.bind(store)
      store.put = (key, body, options) => {
        if (key !== CLAIM_KEY) bodies.push(body)
        return put(key, body, options)
      }
      const { xcom } = fileXCom({ threshold: 0, store, checksum })
      const record = await xcom.push(ID, bytes)
      expect(bodies[0] === bytes, `${checksum} whole=${whole}`).toBe(whole)
      const metadata = (await store.head(refOf(record).objectKey))?.metadata ?? {}
      expect(metadata.xcomchecksum).toBe(whole ? checksumOf(bytes, checksum) : undefined)
      expect(refOf(record).checksum).toBe(checksumOf(bytes, checksum))
      expectBytes(await xcom.pull(ID), bytes) // deep equality of 9 MiB takes seconds
    }
  })

  it('makes objects self-describing through store metadata', async () => {
    const { xcom, store } = fileXCom({ threshold: 0 })
    const record = await xcom.push(
      { dagId: 'd é', runId: 'r/1', taskId: 't', mapIndex: 0, key: 'k' },
      { a: 1 },
    )
    const info = await store.head(refOf(record).objectKey)
    expect(info?.metadata).toMatchObject({
      xcomdagid: encodeURIComponent('d é'),
      xcomrunid: encodeURIComponent('r/1'),
      xcomtaskid: 't',
      xcommapindex: '0',
      xcomkey: 'k',
      xcomrecordid: record.id,
      xcomformat: 'json',
      xcomcodec: 'none',
      xcomsize: String(record.value.size),
      xcomchecksum: refOf(record).checksum,
    })
  })

  it('stores binary values as raw bytes and pulls them back as Uint8Array', async () => {
    const { xcom, root } = fileXCom({ threshold: 0 })
    const bytes = randomBytes(10_000, 4)
    const values: [string, unknown][] = [
      ['u8', bytes],
      ['buffer', Buffer.from(bytes)],
      ['blob', new Blob([bytes as Uint8Array<ArrayBuffer>])],
      ['web', new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()],
      ['iterable', chunked(bytes, 999)],
      ['node', Readable.from(chunked(bytes, 1234))],
      ['strings', Readable.from(['héllo', ' ', 'wörld'])],
    ]
    for (const [key, value] of values) {
      const record = await xcom.push({ ...ID, key }, value)
      const ref = refOf(record)
      expect(ref.format, key).toBe('bytes')
      expect(ref.objectKey.endsWith(`${record.id}.bin`), key).toBe(true)
      const pulled = await xcom.pull({ ...ID, key })
      expect(pulled, key).toBeInstanceOf(Uint8Array)
      expect(Buffer.isBuffer(pulled), key).toBe(false)
      const expected = key === 'strings' ? new Uint8Array(Buffer.from('héllo wörld')) : bytes
      expect(pulled, key).toEqual(expected)
      expect(new Uint8Array(readFileSync(join(root, ref.objectKey))), key).toEqual(expected)
    }
  })

  it('refuses stream chunks that are not bytes, leaving nothing behind', async () => {
    const { xcom, root, metadata } = fileXCom({ threshold: 0 })
    async function* mixed() {
      yield randomBytes(10)
      yield 42 as unknown as Uint8Array
    }
    await expectXComError(xcom.push(ID, mixed()), 'E_NOT_SERIALIZABLE')
    expect(objectFiles(root)).toEqual([])
    expect(await metadata.get({ ...ID, mapIndex: -1, key: 'return_value' })).toBeUndefined()
  })

  it('displays the URI, size and codec without downloading', async () => {
    const { xcom, store } = fileXCom({ threshold: 0 })
    const record = await xcom.push(ID, 'hello')
    store.get = () => {
      throw new Error('display must not download')
    }
    expect(xcom.display(record)).toBe(`${refOf(record).uri} (7 bytes)`)
    const inline = fileXCom({ threshold: -1 })
    expect(inline.xcom.display(await inline.xcom.push(ID, 'hello'))).toBe('"hello"')
  })

  it('streams values with pullStream: referenced bytes, inline bytes, and JSON text', async () => {
    const { xcom } = fileXCom({ threshold: 100 })
    const big = randomBytes(3 * 1024 * 1024 + 5, 9)
    await xcom.push({ ...ID, key: 'big' }, chunked(big, 65_536))
    await xcom.push({ ...ID, key: 'small' }, randomBytes(50, 2))
    await xcom.push({ ...ID, key: 'json' }, { a: 1 })
    await xcom.push({ ...ID, key: 'big-json' }, { text: 'y'.repeat(500) })
    expectBytes(await readAll(await xcom.pullStream({ ...ID, key: 'big' })), big)
    expect(await readAll(await xcom.pullStream({ ...ID, key: 'small' }))).toEqual(randomBytes(50, 2))
    expect(Buffer.from(await readAll(await xcom.pullStream({ ...ID, key: 'json' }))).toString()).toBe(
      '{"a":1}',
    )
    expect(
      JSON.parse(Buffer.from(await readAll(await xcom.pullStream({ ...ID, key: 'big-json' }))).toString()),
    ).toEqual({
      text: 'y'.repeat(500),
    })
  })
})

describe('typed references (what Airflow gets wrong)', () => {
  it('returns a user value equal to a reference URI, or shaped like a reference, as that value; clearing it deletes nothing else', async () => {
    const { xcom, root, store } = fileXCom({ threshold: 30 })
    const victim = await xcom.push(
      { dagId: 'other-dag', runId: 'r', taskId: 't' },
      { secret: 'x'.repeat(100) },
    )
    const ref = refOf(victim)
    const spoofs: [string, unknown][] = [
      ['uri', ref.uri],
      ['key', ref.objectKey],
      ['path', join(root, ref.objectKey)],
      ['shaped', { ...ref }],
      ['stored', { kind: 'reference', ref, size: ref.size } satisfies StoredValue],
    ]
    for (const [key, spoof] of spoofs) {
      await xcom.push({ ...ID, key }, spoof)
      expect(await xcom.pull({ ...ID, key }), key).toEqual(spoof)
    }
    const report = await xcom.clear({ dagId: 'dag' })
    expect(report.deleted).toBe(spoofs.length)
    expect(await store.head(ref.objectKey)).toBeDefined()
    expect(await xcom.pull({ dagId: 'other-dag', runId: 'r', taskId: 't' })).toEqual({
      secret: 'x'.repeat(100),
    })
    await xcom.gc({ graceMs: 0 })
    expect(await store.head(ref.objectKey)).toBeDefined()
  })

  it("refuses a reference row naming another XCom's object: nothing read, nothing deleted", async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom, store } = fileXCom({ threshold: 0 }, metadata)
    const victim = await xcom.push({ dagId: 'victim', runId: 'r', taskId: 't' }, 'precious')
    const forged: XComRecord = {
      ...ID,
      mapIndex: -1,
      key: 'forged',
      id: 'forged-id',
      value: victim.value,
      createdAt: new Date(),
    }
    await metadata.put(forged)
    await expectXComError(xcom.pull({ ...ID, key: 'forged' }), 'E_CORRUPT')
    const report = await xcom.clear({ dagId: 'dag' })
    // The forged reference names no object of its XCom: nothing is deleted, and no purge stays queued forever.
    expect(report).toMatchObject({ deleted: 1, purged: 0, failedPurges: 0 })
    expect(await metadata.pendingPurges(10)).toEqual([])
    expect(await store.head(refOf(victim).objectKey)).toBeDefined()
    expect(await xcom.pull({ dagId: 'victim', runId: 'r', taskId: 't' })).toBe('precious')
  })

  it('refuses a malformed reference with E_CORRUPT', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom } = fileXCom({ threshold: 0 }, metadata)
    const record = await xcom.push(ID, 'value')
    const ref = refOf(record)
    await metadata.put({
      ...record,
      value: { kind: 'reference', ref: { uri: ref.uri, objectKey: ref.objectKey, size: 7 }, size: 7 },
    })
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
  })

  it('keeps traversal-looking identifiers inside the prefix and round-trips them', async () => {
    const { xcom, root, store } = fileXCom({ threshold: 0 })
    const hostile = [
      '..',
      '.',
      '../../etc',
      '/',
      'a/b',
      '\\',
      '..\\..\\x',
      '%2e%2e',
      '%2e%2e%2f',
      '.hidden',
      '~',
      'x'.repeat(250),
    ]
    for (const [index, value] of hostile.entries()) {
      const identity = { dagId: value, runId: value, taskId: value, mapIndex: index, key: value }
      const record = await xcom.push(identity, { index })
      const key = refOf(record).objectKey
      expect(key.split('/')).toHaveLength(6)
      for (const segment of key.split('/')) {
        expect(segment).not.toMatch(/^\.\.?$/)
        expect(segment).not.toContain('\\')
        expect(segment.length).toBeLessThanOrEqual(160 + 45)
      }
      expect(await xcom.pull(identity)).toEqual({ index })
    }
    const files = objectFiles(root)
    expect(files).toHaveLength(hostile.length)
    for (const file of files) expect(file.split('/')).toHaveLength(6)
    expect((await collect(store.list(''))).filter((info) => isObjectKey(info.objectKey)).length).toBe(
      hostile.length,
    )
  })

  it('refuses identifiers with NUL or other control characters before any I/O', async () => {
    const { xcom, root, metadata } = fileXCom({ threshold: 0 })
    for (const field of ['dagId', 'runId', 'taskId', 'key'] as const) {
      await expectXComError(xcom.push({ ...ID, [field]: 'a\u0000b' }, 'value'), 'E_INVALID_KEY')
      await expectXComError(xcom.push({ ...ID, [field]: 'a\nb' }, 'value'), 'E_INVALID_KEY')
    }
    expect(objectFiles(root)).toEqual([])
    expect((await metadata.list({})).records).toEqual([])
  })
})

describe('integrity', () => {
  it('fails with E_CORRUPT when a stored byte is flipped, or the object is truncated or grown', async () => {
    const { xcom, root } = fileXCom({ threshold: 0 })
    const record = await xcom.push(ID, { rows: [1, 2, 3] })
    const path = join(root, refOf(record).objectKey)
    const original = readFileSync(path)
    const flipped = Buffer.from(original)
    flipped[3] = (flipped[3] as number) ^ 0x01
    writeFileSync(path, flipped)
    const error = await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    expect(error.message).toContain(refOf(record).uri)
    expect(error.uri).toBe(refOf(record).uri)
    writeFileSync(path, original.subarray(0, original.length - 1))
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    writeFileSync(path, Buffer.concat([original, Buffer.from(' ')]))
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    writeFileSync(path, original)
    expect(await xcom.pull(ID)).toEqual({ rows: [1, 2, 3] })
  })

  it('records SHA-256 checksums when asked, and reads references of either algorithm', async () => {
    const store = new MemoryObjectStore()
    const metadata = new MemoryMetadataStore()
    const pinned = fileXCom({ threshold: 0, store, checksum: 'sha256' }, metadata)
    const record = await pinned.xcom.push(ID, randomBytes(5000, 1))
    const body = await store.get(refOf(record).objectKey)
    expect(refOf(record).checksum).toBe(checksumOf(await body.bytes(), 'sha256'))
    expect(body.metadata.xcomchecksum).toBe(refOf(record).checksum)
    await pinned.xcom.push({ ...ID, key: 'json' }, { big: 'x'.repeat(100) })
    // A backend configured with the default crc32 still verifies what was written with sha256, and vice versa.
    const crc = fileXCom({ threshold: 0, store }, metadata)
    expect(await crc.xcom.pull(ID)).toEqual(randomBytes(5000, 1))
    expect(await crc.xcom.pull({ ...ID, key: 'json' })).toEqual({ big: 'x'.repeat(100) })
    await crc.xcom.push({ ...ID, key: 'crc' }, 'written with crc32')
    expect(await pinned.xcom.pull({ ...ID, key: 'crc' })).toBe('written with crc32')
  })

  it('with sha256, catches an object swapped for one forged to keep its size and CRC-32 (crc32 cannot)', async () => {
    for (const checksum of ['crc32', 'sha256'] as const) {
      const { xcom, store } = fileXCom({ threshold: 0, store: new MemoryObjectStore(), checksum })
      const original = randomBytes(2000, 7)
      const record = await xcom.push(ID, original)
      const key = refOf(record).objectKey
      const forged = forgeSameCrc32(original, 'paid to the attacker')
      expect(crc32(forged)).toBe(crc32(original))
      await store.put(key, forged, { metadata: (await store.head(key))?.metadata ?? {} })
      if (checksum === 'sha256') await expectXComError(xcom.pull(ID), 'E_CORRUPT')
      else expect(await xcom.pull(ID)).toEqual(forged)
    }
  })

  it('fails with E_CORRUPT when the reference names a malformed checksum', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom } = fileXCom({ threshold: 0 }, metadata)
    const record = await xcom.push(ID, { a: 1 })
    await metadata.put({
      ...record,
      value: { ...record.value, ref: { ...refOf(record), plainJson: 'yes' } } as StoredValue,
    })
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    for (const checksum of ['md5:d41d8cd98f00b204e9800998ecf8427e', 'crc32:XYZ', 42]) {
      await metadata.put({
        ...record,
        value: { ...record.value, ref: { ...refOf(record), checksum } } as StoredValue,
      })
      const error = await expectXComError(xcom.pull(ID), 'E_CORRUPT')
      expect(error.message).toContain('crc32 or sha256 checksum')
    }
    // Nothing was lost: with its reference restored, the value reads back from the object left in place.
    await metadata.put(record)
    expect(await xcom.pull(ID)).toEqual({ a: 1 })
  })

  it('errors a pulled stream with E_CORRUPT at its end when a byte was flipped', async () => {
    const { xcom, store } = fileXCom({ threshold: 0, store: new MemoryObjectStore() })
    const record = await xcom.push(ID, randomBytes(100_000, 3))
    const key = refOf(record).objectKey
    const body = await store.get(key)
    const tampered = await body.bytes()
    tampered[99_999] = (tampered[99_999] as number) ^ 0x80
    await store.put(key, tampered, { metadata: body.metadata })
    await expectXComError(readAll(await xcom.pullStream(ID)), 'E_CORRUPT')
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
  })

  it('fails with E_NOT_FOUND naming the URI when the object was deleted behind its back', async () => {
    const { xcom, store } = fileXCom({ threshold: 0 })
    const record = await xcom.push(ID, 'soon gone')
    const ref = refOf(record)
    await store.deleteMany([ref.objectKey])
    const error = await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
    expect(error.uri).toBe(ref.uri)
    expect(error.message).toContain(ref.uri)
    await expectXComError(xcom.pullStream(ID), 'E_NOT_FOUND')
    const cleared = await xcom.clear({ dagId: 'dag' })
    expect(cleared).toMatchObject({ deleted: 1, purged: 1, failedPurges: 0 })
  })
})

describe('purge and gc', () => {
  it('purges the replaced object on overwrite and every object on clear', async () => {
    const { xcom, root } = fileXCom({ threshold: 0 })
    const first = await xcom.push(ID, 'one')
    const second = await xcom.push(ID, 'two')
    expect(objectFiles(root)).toEqual([refOf(second).objectKey])
    expect(refOf(first).objectKey).not.toBe(refOf(second).objectKey)
    await xcom.push({ ...ID, taskId: 'other' }, 'three')
    expect(objectFiles(root)).toHaveLength(2)
    expect(await xcom.clear({ dagId: 'dag' })).toMatchObject({ deleted: 2, purged: 2, failedPurges: 0 })
    expect(objectFiles(root)).toEqual([])
  })

  it('keeps a failed purge recorded and retries it in gc', async () => {
    const { xcom, store, root } = fileXCom({ threshold: 0 })
    const record = await xcom.push(ID, 'value')
    const deleteMany = store.deleteMany.bind(store)
    let failures = 1
    store.deleteMany = async (keys) => {
      if (failures-- > 0) throw new Error('store unavailable')
      return deleteMany(keys)
    }
    expect(await xcom.clear({ dagId: 'dag' })).toMatchObject({ deleted: 1, purged: 0, failedPurges: 1 })
    expect(objectFiles(root)).toEqual([refOf(record).objectKey])
    const report = await xcom.gc({ graceMs: 3_600_000 })
    expect(report.purgesRetried).toBe(1)
    expect(objectFiles(root)).toEqual([])
  })

  it('removes the object when the row write fails after the upload', async () => {
    const metadata = new MemoryMetadataStore()
    const put = metadata.put.bind(metadata)
    let failures = 1
    metadata.put = async (record) => {
      if (failures-- > 0) throw new Error('database went away')
      return put(record)
    }
    const { xcom, root } = fileXCom({ threshold: 0 }, metadata)
    await expectXComError(xcom.push(ID, 'lost'), 'E_BACKEND')
    expect(objectFiles(root)).toEqual([])
    await xcom.push(ID, 'kept')
    expect(await xcom.pull(ID)).toBe('kept')
  })

  it('sweeps the orphan of a crash between upload and row write, only after the grace period', async () => {
    let now = new Date('2030-01-01T00:00:00Z')
    const store = new MemoryObjectStore({ now: () => now })
    const { xcom, backend, metadata } = fileXCom({ threshold: 0, store, now: () => now })
    const kept = await xcom.push(ID, 'referenced')
    // A crash after the upload: the object exists, the row was never written.
    const orphan = await backend.serializeValue('orphan', {
      ...ID,
      mapIndex: -1,
      key: 'return_value',
      recordId: 'crashed-push',
      database: await metadata.identity(),
    })
    const orphanKey = (orphan as Extract<StoredValue, { kind: 'reference' }>).ref.objectKey as string
    await store.put('unrelated/file.txt', randomBytes(5)) // not of the backend's layout: never swept
    const young = await xcom.gc({ graceMs: 60_000 })
    expect(young.sweep).toEqual({ scanned: 2, deleted: 0, failed: [], foreign: 0 })
    expect(await store.head(orphanKey)).toBeDefined()
    now = new Date(now.getTime() + 61_000)
    const scanned: number[] = []
    const dry = await xcom.gc({
      graceMs: 60_000,
      dryRun: true,
      onProgress: (progress) => scanned.push(progress.done),
    })
    expect(dry).toMatchObject({ dryRun: true, sweep: { scanned: 2, deleted: 1, failed: [] } })
    expect(scanned).toEqual([1, 2])
    expect(await store.head(orphanKey)).toBeDefined()
    const old = await xcom.gc({ graceMs: 60_000 })
    expect(old.sweep).toEqual({ scanned: 2, deleted: 1, failed: [], foreign: 0 })
    expect(await store.head(orphanKey)).toBeUndefined()
    expect(await store.head(refOf(kept).objectKey)).toBeDefined()
    expect(await store.head('unrelated/file.txt')).toBeDefined()
    expect(await xcom.pull(ID)).toBe('referenced')
  })

  it('sweeps file objects by their modification time', async () => {
    const { xcom, backend, root, metadata } = fileXCom({ threshold: 0 })
    await xcom.push(ID, 'referenced')
    const database = await metadata.identity()
    await backend.serializeValue('orphan', {
      ...ID,
      mapIndex: -1,
      key: 'return_value',
      recordId: 'crashed',
      database,
    })
    expect((await xcom.gc({ graceMs: 3_600_000 })).sweep?.deleted).toBe(0)
    expect(objectFiles(root)).toHaveLength(2)
    expect((await xcom.gc({ graceMs: 0 })).sweep).toMatchObject({ scanned: 2, deleted: 1 })
    expect(objectFiles(root)).toHaveLength(1)
    expect(await xcom.pull(ID)).toBe('referenced')
  })

  it('leaves one row and one object after two concurrent pushes to one identity', async () => {
    const { xcom, root, metadata } = fileXCom({ threshold: 0 })
    await Promise.all([
      xcom.push(ID, chunked(randomBytes(300_000, 1), 10_000)),
      xcom.push(ID, chunked(randomBytes(300_000, 2), 10_000)),
    ])
    await xcom.gc({ graceMs: 0 })
    expect((await metadata.list({})).records).toHaveLength(1)
    expect(objectFiles(root)).toHaveLength(1)
    const pulled = await xcom.pull(ID)
    expect([randomBytes(300_000, 1), randomBytes(300_000, 2)]).toContainEqual(pulled)
  })

  it('purges expired values with purgeExpired()', async () => {
    let now = new Date('2030-01-01T00:00:00Z')
    const metadata = new MemoryMetadataStore()
    const root = fileXCom().root
    const xcom = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 }),
      now: () => now,
    })
    await xcom.push(ID, 'short-lived', { expiresAt: new Date('2030-01-01T01:00:00Z') })
    await xcom.push({ ...ID, key: 'forever' }, 'kept')
    expect(objectFiles(root)).toHaveLength(2)
    expect(await xcom.purgeExpired()).toMatchObject({ deleted: 0 })
    now = new Date('2030-01-01T02:00:00Z')
    await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
    expect(await xcom.purgeExpired()).toMatchObject({ deleted: 1, purged: 1 })
    expect(objectFiles(root)).toHaveLength(1)
    expect(await xcom.pull({ ...ID, key: 'forever' })).toBe('kept')
  })
})

describe('maxValueSize', () => {
  it('refuses JSON, bytes and streams over the maximum with E_TOO_LARGE, leaving nothing behind', async () => {
    const { xcom, root, metadata } = fileXCom({ threshold: 0, maxValueSize: 1000 })
    let cancelled = false
    async function* endless() {
      try {
        for (;;) yield randomBytes(100)
      } finally {
        cancelled = true
      }
    }
    await expectXComError(xcom.push(ID, 'x'.repeat(1000)), 'E_TOO_LARGE')
    await expectXComError(xcom.push(ID, randomBytes(1001)), 'E_TOO_LARGE')
    await expectXComError(xcom.push(ID, endless()), 'E_TOO_LARGE')
    expect(cancelled).toBe(true)
    expect(objectFiles(root)).toEqual([])
    expect(tmpFiles(root)).toEqual([])
    expect((await metadata.list({})).records).toEqual([])
    await xcom.push(ID, randomBytes(1000))
    expect(await xcom.pull(ID)).toEqual(randomBytes(1000))
  })

  it('refuses a stream crossing the maximum after the threshold decision, and inline values too', async () => {
    const small = fileXCom({ threshold: 10, maxValueSize: 100_000 })
    await expectXComError(small.xcom.push(ID, chunked(randomBytes(100_001), 1000)), 'E_TOO_LARGE')
    expect(objectFiles(small.root)).toEqual([])
    const inline = fileXCom({ threshold: -1, maxValueSize: 10 })
    await expectXComError(inline.xcom.push(ID, 'x'.repeat(20)), 'E_TOO_LARGE')
    await expectXComError(inline.xcom.push(ID, chunked(randomBytes(11), 4)), 'E_TOO_LARGE')
  })

  it('refuses to pull a referenced value over the maximum', async () => {
    const { xcom, store, metadata } = fileXCom({ threshold: 0 })
    await xcom.push(ID, randomBytes(5000))
    const strict = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({ store, threshold: 0, maxValueSize: 4999 }),
    })
    await expectXComError(strict.pull(ID), 'E_TOO_LARGE')
  })
})

/**
 * Bytes of the same length and CRC-32 as `original`, starting with `text`: CRC-32 is linear over GF(2), so flipping
 * the right set of bits among the last 32 cancels out any change. What anyone who can write to a bucket can do.
 */
function forgeSameCrc32(original: Uint8Array, text: string): Uint8Array {
  const length = original.byteLength
  const zero = crc32(new Uint8Array(length))
  /** How flipping bit `bit` of a zero buffer changes its CRC. */
  const effect = (bit: number) => {
    const flipped = new Uint8Array(length)
    flipped[bit >> 3] = 1 << (bit & 7)
    return (crc32(flipped) ^ zero) >>> 0
  }
  const forged = Uint8Array.from(original)
  forged.set(Buffer.from(text), 0)
  const change = (crc32(forged) ^ crc32(original)) >>> 0
  // Gaussian elimination over the last 32 bits: each basis row is [effect, mask of the last-32 bits it flips].
  const basis: { effect: number; mask: number }[] = []
  const reduce = (row: { effect: number; mask: number }) => {
    for (const kept of basis) {
      if ((row.effect ^ kept.effect) >>> 0 < row.effect) {
        row.effect = (row.effect ^ kept.effect) >>> 0
        row.mask = (row.mask ^ kept.mask) >>> 0
      }
    }
    return row
  }
  for (let index = 0; index < 32; index++) {
    const row = reduce({ effect: effect((length - 4) * 8 + index), mask: (1 << index) >>> 0 })
    if (row.effect !== 0) {
      basis.push(row)
      basis.sort((a, b) => b.effect - a.effect)
    }
  }
  const solution = reduce({ effect: change, mask: 0 })
  if (solution.effect !== 0) throw new Error('no forgery found')
  for (let index = 0; index < 32; index++) {
    if ((solution.mask >>> index) & 1) {
      const bit = (length - 4) * 8 + index
      forged[bit >> 3] = (forged[bit >> 3] as number) ^ (1 << (bit & 7))
    }
  }
  return forged
}
