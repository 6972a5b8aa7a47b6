import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ByteSource, ObjectStore, PutOptions } from '@xcom/core'
import { byteChunks, concatBytes } from '@xcom/core/adapter'
import { chunked, expectXComError, randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { FileObjectStore, isObjectKey, MemoryObjectStore, ReplicatedObjectStore } from '../src/index.ts'
import { collect, fileXCom, ID, objectFiles, refOf, tempDir } from './helpers.ts'

function replicas() {
  const root = tempDir()
  const file = new FileObjectStore({ root })
  const memory = new MemoryObjectStore()
  return { root, file, memory, store: new ReplicatedObjectStore([file, memory]) }
}

/** A memory store whose writes fail after reading `after` chunks. */
function failingAfter(after: number): MemoryObjectStore {
  const store = new MemoryObjectStore({ bucket: 'failing' })
  store.put = async (_key: string, body: ByteSource, _options?: PutOptions) => {
    let read = 0
    for await (const _chunk of body as AsyncIterable<Uint8Array>) {
      if (++read > after) break
    }
    throw new Error('replica write failed')
  }
  return store
}

describe('ReplicatedObjectStore', () => {
  it('writes every replica, combines capabilities and names them all in its url', async () => {
    const { file, memory, store } = replicas()
    expect(store.url).toBe(`replicated(${file.url}, ${memory.url})`)
    expect(store.capabilities).toEqual({ rangeReads: true, conditionalCreate: true })
    const limited = new ReplicatedObjectStore([
      memory,
      {
        ...memory,
        url: 'x://',
        capabilities: { rangeReads: false, conditionalCreate: false, maxObjectSize: 10 },
      } as ObjectStore,
    ])
    expect(limited.capabilities).toEqual({ rangeReads: false, conditionalCreate: false, maxObjectSize: 10 })
    await store.put('k', chunked(randomBytes(100_000), 7000), { metadata: { a: 'b' } })
    expect(await (await file.get('k')).bytes()).toEqual(randomBytes(100_000))
    expect(await (await memory.get('k')).bytes()).toEqual(randomBytes(100_000))
    expect((await memory.head('k'))?.metadata).toEqual({ a: 'b' })
    expect(() => new ReplicatedObjectStore([])).toThrowError(expect.objectContaining({ code: 'E_CONFIG' }))
  })

  it('fails the write when any replica fails, and removes what the others wrote', async () => {
    const root = tempDir()
    const file = new FileObjectStore({ root })
    for (const after of [0, 2]) {
      const store = new ReplicatedObjectStore([file, failingAfter(after)])
      await expect(store.put('k', chunked(randomBytes(50_000), 1000))).rejects.toThrow('replica write failed')
      expect(await file.head('k')).toBeUndefined()
      expect(objectFiles(root)).toEqual([])
    }
    const { xcom } = fileXCom({ threshold: 0, store: new ReplicatedObjectStore([file, failingAfter(1)]) })
    await expectXComError(xcom.push(ID, chunked(randomBytes(50_000), 1000)), 'E_BACKEND')
    expect(objectFiles(root)).toEqual([])
  })

  it('reads the first replica that has the object, deletes from all, and lists the union once', async () => {
    const { file, memory, store } = replicas()
    await memory.put('only-in-memory', randomBytes(3))
    await store.put('both', randomBytes(4))
    expect(await (await store.get('only-in-memory')).bytes()).toEqual(randomBytes(3))
    expect((await store.head('only-in-memory'))?.size).toBe(3)
    expect(await store.head('nowhere')).toBeUndefined()
    await expectXComError(store.get('nowhere'), 'E_NOT_FOUND')
    expect((await collect(store.list(''))).map((info) => info.objectKey).sort()).toEqual([
      'both',
      'only-in-memory',
    ])
    expect((await store.deleteMany(['both', 'only-in-memory', 'nowhere'])).failed).toEqual([])
    expect(await file.head('both')).toBeUndefined()
    expect(await memory.head('both')).toBeUndefined()
  })

  it('keeps memory bounded: the source is read only as fast as the slowest replica', async () => {
    const fast = new MemoryObjectStore()
    const slow = new MemoryObjectStore({ bucket: 'slow' })
    let consumedBySlow = 0
    let resume!: () => void
    const paused = new Promise<void>((resolve) => {
      resume = resolve
    })
    let reachedPause!: () => void
    const atPause = new Promise<void>((resolve) => {
      reachedPause = resolve
    })
    const slowPut = slow.put.bind(slow)
    slow.put = (key, body, options) =>
      slowPut(
        key,
        (async function* () {
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            consumedBySlow++
            if (consumedBySlow === 2) {
              reachedPause()
              await paused
            }
            yield chunk
          }
        })(),
        options,
      )
    let produced = 0
    async function* source() {
      for (let index = 0; index < 100; index++) {
        produced++
        yield randomBytes(100, index + 1)
      }
    }
    const writing = new ReplicatedObjectStore([fast, slow]).put('k', source())
    await atPause
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve))
    expect(produced).toBeLessThanOrEqual(consumedBySlow + 5)
    resume()
    expect((await writing).size).toBe(10_000)
    expect(produced).toBe(100)
    expect(await (await slow.get('k')).bytes()).toEqual(await (await fast.get('k')).bytes())
  })

  it('lets the backend fall back to the next replica when one is corrupt or missing the object', async () => {
    const { root, memory, store } = replicas()
    const { xcom } = fileXCom({ threshold: 0, store })
    const record = await xcom.push(ID, { value: 'replicated' })
    const key = refOf(record).objectKey
    writeFileSync(join(root, key), '{"value":"tampered!!"}')
    expect(await xcom.pull(ID)).toEqual({ value: 'replicated' })
    await store.replicas[0]?.deleteMany([key])
    expect(await xcom.pull(ID)).toEqual({ value: 'replicated' })
    const body = await memory.get(key)
    const bytes = await body.bytes()
    bytes[0] = (bytes[0] as number) ^ 1
    await memory.put(key, bytes)
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    await memory.deleteMany([key])
    await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
  })

  it('purges every replica on clear', async () => {
    const { root, memory, store } = replicas()
    const { xcom } = fileXCom({ threshold: 0, store })
    await xcom.push(ID, 'x')
    expect(objectFiles(root)).toHaveLength(1)
    const values = async () => (await collect(memory.list(''))).filter((info) => isObjectKey(info.objectKey))
    expect(await values()).toHaveLength(1)
    await xcom.clear({ dagId: 'dag' })
    expect(objectFiles(root)).toEqual([])
    expect(await values()).toEqual([])
  })
})

describe('ReplicatedObjectStore leftovers', () => {
  it('asks each replica that can to remove leftovers of interrupted writes', async () => {
    const root = tempDir()
    const store = new ReplicatedObjectStore([new FileObjectStore({ root }), new MemoryObjectStore()])
    await store.put('a/b', randomBytes(10))
    writeFileSync(join(root, '.xcom', 'tmp', 'killed'), 'partial')
    expect(await store.removeIncomplete(new Date(Date.now() + 60_000))).toEqual({ removed: 1, failed: [] })
  })
})

describe('the replicas capability of any store', () => {
  /** Not a ReplicatedObjectStore: a store of its own that copies every write to a backup and says so in `replicas`. */
  class MirroredStore extends MemoryObjectStore {
    readonly backup = new MemoryObjectStore({ bucket: 'backup' })
    readonly replicas: readonly ObjectStore[] = [this, this.backup]
    override async put(objectKey: string, body: ByteSource, options?: PutOptions) {
      const chunks: Uint8Array[] = []
      for await (const chunk of byteChunks(body)) chunks.push(chunk)
      const bytes = concatBytes(chunks)
      await this.backup.put(objectKey, bytes, options)
      return super.put(objectKey, bytes, options)
    }
  }

  it('lets the backend read the next replica a store names when its own copy is damaged or gone', async () => {
    const store = new MirroredStore()
    expect(store).not.toBeInstanceOf(ReplicatedObjectStore)
    const { xcom } = fileXCom({ threshold: 0, store })
    const record = await xcom.push(ID, { value: 'mirrored' })
    const objectKey = refOf(record).objectKey
    const own = (bytes: Uint8Array) => MemoryObjectStore.prototype.put.call(store, objectKey, bytes)
    await own(new Uint8Array(Buffer.from('{"value":"tampered"}')))
    expect(await xcom.pull(ID)).toEqual({ value: 'mirrored' })
    await store.deleteMany([objectKey]) // from the store's own copy only
    expect(await store.head(objectKey)).toBeUndefined()
    expect(await xcom.pull(ID)).toEqual({ value: 'mirrored' })
    await store.backup.deleteMany([objectKey])
    await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
  })

  it('reads only the store itself when it names no replicas', async () => {
    const store = new MirroredStore()
    Object.defineProperty(store, 'replicas', { value: undefined })
    const { xcom } = fileXCom({ threshold: 0, store })
    const record = await xcom.push(ID, { value: 'mirrored' })
    await store.deleteMany([refOf(record).objectKey])
    expect(await store.backup.head(refOf(record).objectKey)).toBeDefined()
    await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
  })
})
