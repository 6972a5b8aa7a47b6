import { randomUUID } from 'node:crypto'
import type { ObjectStore } from '@xcom/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chunked, expectBytes, expectXComError, randomBytes, readAll } from './test-data.ts'

/** What the conformance suite passes to the store factory. */
export interface ObjectStoreSuiteContext {
  /**
   * A page size to list with, when the store can be told one: the suite writes more objects than this under one
   * prefix, so listing must paginate.
   */
  pageSize: number
}

/** Options of {@link describeObjectStore}. */
export interface ObjectStoreSuiteOptions {
  /** The page size hint given to the factory. @default 4 */
  pageSize?: number
  /** Size of the large object written and read back, in bytes. @default 6 MiB + 7 (over S3's 5 MiB multipart part) */
  largeObjectSize?: number
  /** Runs after the suite, e.g. to stop a local service. */
  teardown?: () => void | Promise<void>
}

/** A store the suite has built, with the key prefix its tests write under. */
interface Fixture {
  store: ObjectStore
  /** A fresh `xcom-conformance-<uuid>/` so runs sharing a bucket never see each other's objects. */
  root: string
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const info of store.list(prefix)) keys.push(info.objectKey)
  return keys.sort()
}

/**
 * The conformance suite every {@link ObjectStore} must pass (file, memory, S3, GCS, Azure, and third-party stores).
 * Call it at the top level of a vitest test file; `factory` builds the store once for the suite. Every object is
 * written under a fresh `xcom-conformance-<uuid>/` prefix and deleted at the end.
 *
 * @example
 * ```ts
 * import { describeObjectStore } from '@xcom/testing'
 * describeObjectStore('MyStore', ({ pageSize }) => new MyStore({ bucket: 'test', pageSize }))
 * ```
 */
export function describeObjectStore(
  name: string,
  factory: (context: ObjectStoreSuiteContext) => ObjectStore | Promise<ObjectStore>,
  options: ObjectStoreSuiteOptions = {},
): void {
  const pageSize = options.pageSize ?? 4
  const largeSize = options.largeObjectSize ?? 6 * 1024 * 1024 + 7

  describe(`ObjectStore conformance: ${name}`, () => {
    const fixture = {} as Fixture
    const key = (suffix: string) => `${fixture.root}${suffix}`

    beforeAll(async () => {
      fixture.store = await factory({ pageSize })
      fixture.root = `xcom-conformance-${randomUUID()}/`
    })

    afterAll(async () => {
      try {
        if (fixture.store) {
          const keys = await keysUnder(fixture.store, fixture.root)
          if (keys.length > 0) await fixture.store.deleteMany(keys)
          await fixture.store.close?.()
        }
      } finally {
        await options.teardown?.()
      }
    })

    it('describes itself: a url and boolean capabilities', () => {
      expect(typeof fixture.store.url).toBe('string')
      expect(fixture.store.url.length).toBeGreaterThan(0)
      expect(typeof fixture.store.capabilities.rangeReads).toBe('boolean')
      expect(typeof fixture.store.capabilities.conditionalCreate).toBe('boolean')
    })

    it('puts bytes with metadata, and gets them back as bytes, as a stream and through head', async () => {
      const { store } = fixture
      const bytes = randomBytes(1000, 7)
      const metadata = { xcomformat: 'bytes', 'x-custom': 'hello world', checksum: 'sha256:abc' }
      const result = await store.put(key('put/bytes.bin'), bytes, {
        metadata,
        contentType: 'application/octet-stream',
      })
      expect(result.size).toBe(1000)
      const info = await store.head(key('put/bytes.bin'))
      expect(info?.objectKey).toBe(key('put/bytes.bin'))
      expect(info?.size).toBe(1000)
      expect(info?.metadata).toMatchObject(metadata)
      expect(info?.lastModified).toBeInstanceOf(Date)
      expect(Number.isNaN(info?.lastModified.getTime())).toBe(false)
      const body = await store.get(key('put/bytes.bin'))
      expect(body.size).toBe(1000)
      expect(body.metadata).toMatchObject(metadata)
      expect(await body.bytes()).toEqual(bytes)
      expect(await readAll((await store.get(key('put/bytes.bin'))).stream())).toEqual(bytes)
    })

    it('puts an async iterable of uneven chunks', async () => {
      const bytes = randomBytes(100_000, 3)
      const result = await fixture.store.put(key('put/iterable.bin'), chunked(bytes, [1, 4096, 777, 65536]))
      expect(result.size).toBe(bytes.byteLength)
      expect(await (await fixture.store.get(key('put/iterable.bin'))).bytes()).toEqual(bytes)
    })

    it('puts a web ReadableStream', async () => {
      const bytes = randomBytes(50_000, 5)
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes.slice(0, 10))
          controller.enqueue(bytes.slice(10, 30_000))
          controller.enqueue(bytes.slice(30_000))
          controller.close()
        },
      })
      expect((await fixture.store.put(key('put/stream.bin'), stream)).size).toBe(bytes.byteLength)
      expect(await readAll((await fixture.store.get(key('put/stream.bin'))).stream())).toEqual(bytes)
    })

    it('stores 0-byte objects', async () => {
      const { store } = fixture
      expect((await store.put(key('empty/bytes'), new Uint8Array(0))).size).toBe(0)
      expect((await store.put(key('empty/iterable'), chunked(new Uint8Array(0), [1]))).size).toBe(0)
      for (const name of ['empty/bytes', 'empty/iterable']) {
        expect((await store.head(key(name)))?.size).toBe(0)
        expect((await (await store.get(key(name))).bytes()).byteLength).toBe(0)
        expect((await readAll((await store.get(key(name))).stream())).byteLength).toBe(0)
      }
    })

    it(`round-trips a multi-MiB object (${largeSize} bytes) streamed in and out`, async () => {
      const bytes = randomBytes(largeSize, 11)
      const result = await fixture.store.put(key('large/object.bin'), chunked(bytes, [1 << 20, 123_457, 3]))
      expect(result.size).toBe(largeSize)
      expect((await fixture.store.head(key('large/object.bin')))?.size).toBe(largeSize)
      expectBytes(await readAll((await fixture.store.get(key('large/object.bin'))).stream()), bytes)
      expectBytes(await (await fixture.store.get(key('large/object.bin'))).bytes(), bytes)
    })

    it('refuses keys with empty, "." or ".." segments, backslashes or control characters on every operation', async () => {
      const { store } = fixture
      const target = key('dots/target.bin')
      await store.put(target, randomBytes(10, 3))
      // Each resolves to `target` on a server or SDK that normalizes paths: it must never reach it.
      const forged = [
        `${key('dots/x')}/../target.bin`,
        `${key('dots')}/./target.bin`,
        `${key('dots')}//target.bin`,
        `${key('dots')}\\..\\dots\\target.bin`,
        `${key('dots/target.bin')}\u0000`,
      ]
      for (const bad of forged) {
        await expectXComError(store.put(bad, randomBytes(5, 4)), 'E_INVALID_KEY')
        await expectXComError(store.get(bad), 'E_INVALID_KEY')
        await expectXComError(store.head(bad), 'E_INVALID_KEY')
      }
      const { failed } = await store.deleteMany([...forged, key('dots/absent')])
      expect(failed.map((failure) => [failure.objectKey, failure.error.code])).toEqual(
        forged.map((bad) => [bad, 'E_INVALID_KEY']),
      )
      expect(await (await store.get(target)).bytes()).toEqual(randomBytes(10, 3))
    })

    it('replaces an object written twice under one key, metadata included', async () => {
      const { store } = fixture
      await store.put(key('replace/k'), randomBytes(100, 1), { metadata: { version: 'one' } })
      await store.put(key('replace/k'), randomBytes(50, 2), { metadata: { version: 'two' } })
      const body = await store.get(key('replace/k'))
      expect(await body.bytes()).toEqual(randomBytes(50, 2))
      expect(body.metadata.version).toBe('two')
    })

    it('reads ranges when capabilities.rangeReads, else serves whole objects', async () => {
      const { store } = fixture
      const bytes = randomBytes(10_000, 13)
      await store.put(key('range/object.bin'), bytes)
      if (!store.capabilities.rangeReads) {
        expect(await (await store.get(key('range/object.bin'))).bytes()).toEqual(bytes)
        return
      }
      const read = async (range: { start: number; end?: number }) =>
        (await store.get(key('range/object.bin'), { range })).bytes()
      expect(await read({ start: 0, end: 0 })).toEqual(bytes.slice(0, 1))
      expect(await read({ start: 100, end: 199 })).toEqual(bytes.slice(100, 200))
      expect(await read({ start: 9_000 })).toEqual(bytes.slice(9_000))
      expect(await read({ start: 9_999, end: 9_999 })).toEqual(bytes.slice(9_999))
      const streamed = await readAll(
        (await store.get(key('range/object.bin'), { range: { start: 5, end: 5004 } })).stream(),
      )
      expect(streamed).toEqual(bytes.slice(5, 5005))
    })

    it('answers head of a missing key with undefined and get with E_NOT_FOUND', async () => {
      expect(await fixture.store.head(key('missing/nothing-here'))).toBeUndefined()
      const error = await expectXComError(fixture.store.get(key('missing/nothing-here')), 'E_NOT_FOUND')
      expect(`${error.message} ${error.uri ?? ''}`).toContain('missing/nothing-here')
    })

    it('deletes many keys, missing ones included, without failures', async () => {
      const { store } = fixture
      await store.put(key('delete/a'), randomBytes(10, 1))
      await store.put(key('delete/b/c'), randomBytes(10, 2))
      await store.put(key('delete/keep'), randomBytes(10, 3))
      const result = await store.deleteMany([key('delete/a'), key('delete/b/c'), key('delete/never-existed')])
      expect(result.failed).toEqual([])
      expect(await store.head(key('delete/a'))).toBeUndefined()
      expect(await store.head(key('delete/b/c'))).toBeUndefined()
      expect((await store.head(key('delete/keep')))?.size).toBe(10)
      expect((await store.deleteMany([key('delete/a')])).failed).toEqual([])
      expect((await store.deleteMany([])).failed).toEqual([])
      await expectXComError(store.get(key('delete/a')), 'E_NOT_FOUND')
    })

    it('lists by prefix across more objects than one page', async () => {
      const { store } = fixture
      const count = pageSize * 3 + 2
      const expected: string[] = []
      for (let index = 0; index < count; index++) {
        const name = key(`list/p/${String(index).padStart(3, '0')}`)
        expected.push(name)
        await store.put(name, randomBytes(index + 1, index + 1))
      }
      expected.push(key('list/p/nested/deeper/x'))
      await store.put(key('list/p/nested/deeper/x'), randomBytes(3, 3))
      await store.put(key('list/p-sibling/y'), randomBytes(3, 3))
      await store.put(key('list/q/z'), randomBytes(3, 3))
      const infos = []
      for await (const info of store.list(key('list/p/'))) infos.push(info)
      expect(infos.map((info) => info.objectKey).sort()).toEqual(expected.sort())
      const byKey = new Map(infos.map((info) => [info.objectKey, info]))
      expect(byKey.get(key('list/p/000'))?.size).toBe(1)
      expect(byKey.get(key(`list/p/${String(count - 1).padStart(3, '0')}`))?.size).toBe(count)
      expect(infos.every((info) => info.lastModified instanceof Date)).toBe(true)
      expect(await keysUnder(store, key('list/p'))).toEqual([...expected, key('list/p-sibling/y')].sort())
      expect(await keysUnder(store, key('list/none/'))).toEqual([])
    })

    it('refuses a conditional create over an existing key with E_PRECONDITION_FAILED when capabilities.conditionalCreate', async () => {
      const { store } = fixture
      if (!store.capabilities.conditionalCreate) {
        await store.put(key('conditional/plain'), randomBytes(5, 5))
        expect((await store.head(key('conditional/plain')))?.size).toBe(5)
        return
      }
      expect(
        (
          await store.put(key('conditional/new'), randomBytes(20, 1), {
            ifNoneMatch: true,
            metadata: { first: 'yes' },
          })
        ).size,
      ).toBe(20)
      await expectXComError(
        store.put(key('conditional/new'), randomBytes(30, 2), {
          ifNoneMatch: true,
          metadata: { first: 'no' },
        }),
        'E_PRECONDITION_FAILED',
      )
      const body = await store.get(key('conditional/new'))
      expect(await body.bytes()).toEqual(randomBytes(20, 1))
      expect(body.metadata.first).toBe('yes')
    })

    it('keeps keys with unusual but valid characters exactly', async () => {
      const { store } = fixture
      const names = [
        'unusual/with space.txt',
        'unusual/plus+equals=sign',
        'unusual/percent%20%2e%2e%2F',
        'unusual/ünïcødé-日本語-🚀',
        'unusual/at@colon:semi;comma,',
        "unusual/quote'paren(star*)tilde~",
        'unusual/amp&dollar$hash#question?',
        'unusual/..dots../.hidden',
      ]
      for (const [index, name] of names.entries())
        await store.put(key(name), randomBytes(index + 1, index + 1))
      for (const [index, name] of names.entries()) {
        expect((await store.head(key(name)))?.size).toBe(index + 1)
        expect(await (await store.get(key(name))).bytes()).toEqual(randomBytes(index + 1, index + 1))
      }
      expect(await keysUnder(store, key('unusual/'))).toEqual(names.map(key).sort())
      expect((await store.deleteMany(names.map(key))).failed).toEqual([])
      expect(await keysUnder(store, key('unusual/'))).toEqual([])
    })

    it('leaves nothing behind (and keeps the previous object) when the body fails mid-way', async () => {
      const { store } = fixture
      await store.put(key('failing/k'), randomBytes(10, 1))
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1000, 2)
        throw new Error('source broke')
      }
      await expect(store.put(key('failing/k'), failing())).rejects.toThrow()
      await expect(store.put(key('failing/new'), failing())).rejects.toThrow()
      expect(await (await store.get(key('failing/k'))).bytes()).toEqual(randomBytes(10, 1))
      expect(await store.head(key('failing/new'))).toBeUndefined()
      expect(await keysUnder(store, key('failing/'))).toEqual([key('failing/k')])
    })

    it('stops and leaves nothing behind when the write is aborted', async () => {
      const { store } = fixture
      const controller = new AbortController()
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1000, 1)
        controller.abort(new Error('stop'))
        yield randomBytes(1000, 2)
        yield randomBytes(1000, 3)
      }
      await expect(store.put(key('aborted/k'), slow(), { signal: controller.signal })).rejects.toThrow()
      expect(await store.head(key('aborted/k'))).toBeUndefined()
    })

    it('gives each read its own copy: changing returned bytes changes nothing stored', async () => {
      const { store } = fixture
      const bytes = randomBytes(64, 9)
      await store.put(key('copy/k'), bytes)
      bytes[0] = (bytes[0] as number) ^ 0xff
      const read = await (await store.get(key('copy/k'))).bytes()
      expect(read).toEqual(randomBytes(64, 9))
      read[1] = (read[1] as number) ^ 0xff
      expect(await (await store.get(key('copy/k'))).bytes()).toEqual(randomBytes(64, 9))
    })
  })
}
