import { utimesSync, writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { gzip } from '@xcom/compression'
import {
  type ByteSource,
  type GetOptions,
  MemoryMetadataStore,
  type ObjectInfo,
  type PutOptions,
  XCom,
  XComError,
  type XComRecord,
} from '@xcom/core'
import { expectXComError, randomBytes, readAll } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import {
  CLAIM_KEY,
  DEFAULT_MAX_VALUE_SIZE,
  FileObjectStore,
  MemoryObjectStore,
  ObjectStoreXComBackend,
  objectStoreFromUrl,
} from '../src/index.ts'
import { fileXCom, ID, objectFiles, refOf, tempDir, tmpFiles } from './helpers.ts'

/** A store that resolves dot segments before looking a key up, as s3rver and the Azure SDK do. */
class ResolvingStore extends MemoryObjectStore {
  override get(key: string, options?: GetOptions) {
    return super.get(posix.normalize(key), options)
  }
  override head(key: string) {
    return super.head(posix.normalize(key))
  }
  override deleteMany(keys: readonly string[]) {
    return super.deleteMany(keys.map((key) => posix.normalize(key)))
  }
}

describe('forged reference keys', () => {
  it('refuses a key that leaves its XCom through dot segments, even on a store that resolves them', async () => {
    const metadata = new MemoryMetadataStore()
    const store = new ResolvingStore()
    const { xcom } = fileXCom({ threshold: 0, store }, metadata)
    const victim = await xcom.push({ dagId: 'victim', runId: 'r', taskId: 't' }, 'precious')
    const own = await xcom.push(ID, 'mine')
    const forgedKey = `${refOf(own).objectKey}/${'../'.repeat(6)}${refOf(victim).objectKey}`
    expect(posix.normalize(forgedKey)).toBe(refOf(victim).objectKey)
    await metadata.put({
      ...own,
      value: { ...own.value, ref: { ...refOf(victim), objectKey: forgedKey } },
    } as XComRecord)
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    const report = await xcom.clear({ dagId: 'dag' })
    expect(report).toMatchObject({ deleted: 1, failedPurges: 0 })
    expect(await xcom.pull({ dagId: 'victim', runId: 'r', taskId: 't' })).toBe('precious')
  })

  it('resolves the purge of a reference whose row id cannot be part of a key, deleting nothing', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom, store } = fileXCom({ threshold: 0 }, metadata)
    const record = await xcom.push(ID, 'value')
    await metadata.put({ ...record, id: '1.0' })
    await metadata.resolvePurges([record.id]) // the replaced row held the same object: keep it
    expect(await xcom.clear({ dagId: ID.dagId })).toMatchObject({ deleted: 1, failedPurges: 0 })
    expect(await metadata.pendingPurges(10)).toEqual([])
    expect(await store.head(refOf(record).objectKey)).toBeDefined() // left to the sweep, which matches it to no row
  })

  it('refuses a key of the same XCom with another record id, format or codec', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom } = fileXCom({ threshold: 0, compression: gzip() }, metadata)
    const record = await xcom.push(ID, 'x'.repeat(10_000))
    const ref = refOf(record)
    const variants = [
      ref.objectKey.replace(record.id, `${record.id}x`),
      ref.objectKey.replace('.json.gz', '.bin.gz'),
      ref.objectKey.replace('.json.gz', '.json'),
      `${ref.objectKey}.gz`,
    ]
    for (const objectKey of variants) {
      await metadata.put({ ...record, value: { ...record.value, ref: { ...ref, objectKey } } } as XComRecord)
      await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    }
  })

  it('is refused by every store of this package: ".", ".." and empty segments, backslashes', async () => {
    for (const store of [new MemoryObjectStore(), new FileObjectStore({ root: tempDir() })]) {
      await store.put('ok/key', randomBytes(3))
      for (const key of ['a/../ok/key', './ok/key', 'ok//key', '/ok/key', 'ok/key/', 'ok\\key', 'ok/.']) {
        await expectXComError(store.get(key), 'E_INVALID_KEY')
        await expectXComError(store.put(key, randomBytes(3)), 'E_INVALID_KEY')
      }
      const { failed } = await store.deleteMany(['ok/../ok/key', 'ok/key'])
      expect(failed.map(({ objectKey, error }) => [objectKey, error.code])).toEqual([
        ['ok/../ok/key', 'E_INVALID_KEY'],
      ])
      expect(await store.head('ok/key')).toBeUndefined()
    }
  })
})

describe('one metadata database per prefix', () => {
  const twoDatabases = () => {
    const root = tempDir()
    const open = () => {
      const metadata = new MemoryMetadataStore()
      const backend = new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 })
      return { metadata, xcom: new XCom({ metadata, backend }) }
    }
    return { root, a: open(), b: open() }
  }

  it('refuses pushes and gc of a second database, naming both, and writes nothing', async () => {
    const { root, a, b } = twoDatabases()
    await a.xcom.push(ID, 'from a')
    const before = objectFiles(root)
    const error = await expectXComError(b.xcom.push({ ...ID, key: 'b' }, 'from b'), 'E_CONFIG')
    const [ida, idb] = [(await a.metadata.identity()).id, (await b.metadata.identity()).id]
    expect(error.message).toContain(ida)
    expect(error.message).toContain(idb)
    await expectXComError(b.xcom.gc({ graceMs: 0 }), 'E_CONFIG')
    expect(objectFiles(root)).toEqual(before)
    expect(await a.xcom.pull(ID)).toBe('from a')
    // Inline values never touch the store: the second database can still keep those.
    expect((await a.xcom.gc({ graceMs: 0 })).sweep).toMatchObject({ deleted: 0 })
  })

  it('reads a claim again when it is torn by a concurrent first write (a store without atomic replace)', async () => {
    const root = tempDir()
    const store = new FileObjectStore({ root })
    const get = store.get.bind(store)
    let tears = 0
    store.get = async (key, options) => {
      const body = await get(key, options)
      if (key !== CLAIM_KEY || tears >= 2) return body
      tears++
      const half = (await body.bytes()).subarray(0, 10)
      return { ...body, size: half.byteLength, bytes: async () => half }
    }
    const xcom = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
    })
    // The read of the claim it just wrote is torn twice: read again, not refused as damaged.
    await xcom.push(ID, 'first')
    expect(tears).toBe(2)
    const again = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
    })
    // A claim of another database is still refused.
    await expectXComError(again.push(ID, 'second'), 'E_CONFIG')
  })

  it("never sweeps another database's objects, even when the claim was removed", async () => {
    const { root, a, b } = twoDatabases()
    await a.xcom.push(ID, 'from a')
    writeFileSync(join(root, CLAIM_KEY), '') // damaged claim
    await expectXComError(b.xcom.push(ID, 'b'), 'E_CORRUPT')
    await new FileObjectStore({ root }).deleteMany([CLAIM_KEY])
    const report = await b.xcom.gc({ graceMs: 0 })
    expect(report.sweep).toMatchObject({ scanned: 1, deleted: 0, foreign: 1 })
    expect(await a.xcom.pull(ID)).toBe('from a')
  })
})

describe('bounded reads', () => {
  const forge = async (xcom: XCom, metadata: MemoryMetadataStore, change: Record<string, unknown>) => {
    const record = (await metadata.get({ ...ID, mapIndex: -1, key: 'return_value' })) as XComRecord
    await metadata.put({
      ...record,
      value: { ...record.value, ref: { ...refOf(record), ...change } },
    } as XComRecord)
    return xcom
  }

  it('stops decompressing at the recorded size: one byte more is E_CORRUPT, whole and streamed', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom } = fileXCom({ threshold: 0, compression: gzip() }, metadata)
    const value = new Uint8Array(1024 * 1024)
    const record = await xcom.push(ID, value)
    await forge(xcom, metadata, { size: refOf(record).size - 1 })
    const error = await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    expect(error.message).toContain('decompresses to more than')
    await expectXComError(readAll(await xcom.pullStream(ID)), 'E_CORRUPT')
  })

  it('refuses a recorded size over the default maximum before downloading anything', async () => {
    const metadata = new MemoryMetadataStore()
    const store = new MemoryObjectStore()
    const { xcom, backend } = fileXCom({ threshold: 0, compression: gzip(), store }, metadata)
    expect(backend.maxValueSize).toBe(DEFAULT_MAX_VALUE_SIZE)
    await xcom.push(ID, new Uint8Array(1024 * 1024))
    await forge(xcom, metadata, { size: DEFAULT_MAX_VALUE_SIZE + 1 })
    let gets = 0
    const get = store.get.bind(store)
    store.get = (key, options) => {
      gets++
      return get(key, options)
    }
    await expectXComError(xcom.pull(ID), 'E_TOO_LARGE')
    expect(gets).toBe(0)
  })

  it('verifies the size of uncompressed objects against the reference', async () => {
    const metadata = new MemoryMetadataStore()
    const { xcom } = fileXCom({ threshold: 0 }, metadata)
    const record = await xcom.push(ID, randomBytes(1000))
    await forge(xcom, metadata, { size: refOf(record).size + 5 })
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
  })

  it('bounds readObject by the size the object records, or maxValueSize', async () => {
    const store = new MemoryObjectStore()
    const { xcom, backend } = fileXCom({ threshold: 0, compression: gzip(), store })
    const record = await xcom.push(ID, new Uint8Array(100_000))
    const key = refOf(record).objectKey
    const info = (await store.head(key)) as ObjectInfo
    const bytes = await (await store.get(key)).bytes()
    await store.put(key, bytes, { metadata: { ...info.metadata, xcomsize: '99999' } })
    await expectXComError(backend.readObject(key), 'E_TOO_LARGE')
    const small = new ObjectStoreXComBackend({ store, maxValueSize: 1000 })
    await store.put('foreign.bin.gz', await gzip().compress(new Uint8Array(5000)))
    await expectXComError(small.readObject('foreign.bin.gz'), 'E_TOO_LARGE')
  })
})

describe('pull racing an overwrite or a clear', () => {
  /** A store whose `get`s wait from `hold()` until `release()`. */
  class GatedStore extends MemoryObjectStore {
    #gate: Promise<void> | undefined
    #open = () => {}
    hold(): void {
      this.#gate = new Promise((resolve) => {
        this.#open = resolve
      })
    }
    release(): void {
      this.#gate = undefined
      this.#open()
    }
    override async get(key: string, options?: GetOptions) {
      if (this.#gate) await this.#gate
      return super.get(key, options)
    }
  }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5))

  it('returns the value that replaced the one it was reading', async () => {
    const store = new GatedStore()
    const { xcom } = fileXCom({ threshold: 0, store })
    await xcom.push(ID, 'first')
    store.hold()
    const pulling = xcom.pull(ID)
    await tick()
    await xcom.push(ID, 'second') // purges the object the pull is about to read
    store.release()
    expect(await pulling).toBe('second')
  })

  it('answers a clear during the read like a missing XCom: the default, or E_NOT_FOUND naming no lost object', async () => {
    const store = new GatedStore()
    const { xcom } = fileXCom({ threshold: 0, store })
    await xcom.push(ID, 'first')
    store.hold()
    const withDefault = xcom.pull(ID, { default: 'gone' })
    await tick()
    await xcom.clear({ dagId: ID.dagId })
    store.release()
    expect(await withDefault).toBe('gone')
    await xcom.push(ID, 'again')
    store.hold()
    const without = xcom.pull(ID)
    const many = xcom.pullMany({ dagId: ID.dagId, runId: ID.runId })
    await tick()
    await xcom.clear({ dagId: ID.dagId })
    store.release()
    const error = await expectXComError(without, 'E_NOT_FOUND')
    expect(error.message).toContain('No XCom')
    expect(await many).toEqual([])
  })

  it('says what is known when the object of a live row is missing', async () => {
    const { xcom, store } = fileXCom({ threshold: 0 })
    const record = await xcom.push(ID, 'value')
    await store.deleteMany([refOf(record).objectKey])
    const error = await expectXComError(xcom.pull(ID, { default: 'not used' }), 'E_NOT_FOUND')
    expect(error.message).toContain('still references it')
    expect(error.message).toContain('not removed by an overwrite or clear')
  })
})

describe('leftovers of interrupted writes', () => {
  it('gc removes temporary files of killed pushes older than the grace period', async () => {
    const { xcom, root, store } = fileXCom({ threshold: 0 })
    await xcom.push(ID, 'value')
    const tmp = join(root, '.xcom', 'tmp')
    const old = new Date(Date.now() - 3_600_000)
    for (const name of ['killed', 'killed.meta', 'in-flight']) writeFileSync(join(tmp, name), 'partial')
    utimesSync(join(tmp, 'killed'), old, old)
    utimesSync(join(tmp, 'killed.meta'), old, old)
    const report = await xcom.gc({ graceMs: 60_000 })
    expect(report.sweep).toMatchObject({ incomplete: 1, failed: [] })
    expect(tmpFiles(root)).toEqual(['in-flight'])
    expect(await (store as FileObjectStore).removeIncomplete(new Date())).toEqual({ removed: 1, failed: [] })
    expect(await xcom.pull(ID)).toBe('value')
  })
})

describe('case-insensitive stores', () => {
  /**
   * Keys compare without case, and a listing shows each folder as it was first written (macOS, Windows): `a/x` written
   * after `A/y` is listed as `A/x`.
   */
  class CaseFoldingStore extends MemoryObjectStore {
    readonly #spelling = new Map<string, string>()
    #fold(key: string): string {
      const parts = key.split('/')
      return parts
        .map((part, index) => {
          const folder = parts
            .slice(0, index + 1)
            .join('/')
            .toLowerCase()
          if (index === parts.length - 1) return part
          if (!this.#spelling.has(folder)) this.#spelling.set(folder, part)
          return this.#spelling.get(folder) as string
        })
        .join('/')
    }
    #find(key: string): string {
      const folded = this.#fold(key)
      return folded.slice(0, folded.lastIndexOf('/') + 1) + key.slice(key.lastIndexOf('/') + 1).toLowerCase()
    }
    override put(key: string, body: ByteSource, options?: PutOptions) {
      return super.put(this.#find(key), body, options)
    }
    override get(key: string, options?: GetOptions) {
      return super.get(this.#find(key), options)
    }
    override head(key: string) {
      return super.head(this.#find(key))
    }
    override deleteMany(keys: readonly string[]) {
      return super.deleteMany(keys.map((key) => this.#find(key)))
    }
  }

  it('keeps identities that differ only in case apart: gc and clear touch only their own objects', async () => {
    let now = new Date('2030-01-01T00:00:00Z')
    const store = new CaseFoldingStore({ now: () => now })
    const { xcom } = fileXCom({ threshold: 0, store, now: () => now })
    const upper = { dagId: 'Etl', runId: 'Run', taskId: 'T' }
    const lower = { dagId: 'etl', runId: 'run', taskId: 't' }
    await xcom.push(upper, 'upper')
    await xcom.push(lower, 'lower')
    now = new Date(now.getTime() + 86_400_000)
    expect((await xcom.gc({ graceMs: 0 })).sweep).toMatchObject({ scanned: 2, deleted: 0 })
    expect(await xcom.pull(upper)).toBe('upper')
    expect(await xcom.pull(lower)).toBe('lower')
    await xcom.clear({ dagId: 'Etl' })
    expect(await xcom.pull(lower)).toBe('lower')
    expect((await xcom.gc({ graceMs: 0 })).sweep).toMatchObject({ scanned: 1, deleted: 0 })
  })
})

describe('adapter errors name the setting', () => {
  it('prefixes an adapter option error with the variable the URL came from', async () => {
    const error = await expectXComError(
      objectStoreFromUrl('s3://bucket/xcom?partSize=abc', {
        source: 'XCOM_OBJECTSTORAGE_PATH',
        adapters: {
          s3: () => {
            throw new XComError('E_CONFIG', 'partSize must be a size in bytes, got "abc".')
          },
        },
      }),
      'E_CONFIG',
    )
    expect(error.message).toMatch(/^XCOM_OBJECTSTORAGE_PATH .*partSize must be/)
  })
})

describe('secrets in object storage URLs', () => {
  it('never shows them in errors: slashes in secrets, encoded colons, adapter messages, file URLs', async () => {
    const cases: [string, string, Parameters<typeof objectStoreFromUrl>[1]][] = [
      ['s3://AKIA:ab/cdSECRET@bucket/x', 'cdSECRET', {}],
      ['s3://KEY%3ASECRET@bucket/x', 'SECRET', {}],
      [
        's3://KEY@bucket/x',
        'TOKENSECRET',
        { adapters: { s3: () => Promise.reject(new Error('denied for s3://u:TOKENSECRET@h')) } },
      ],
      ['file://?password=SECRET', 'SECRET', {}],
    ]
    for (const [url, secret, options] of cases) {
      const error = await objectStoreFromUrl(url, { source: 'XCOM_OBJECTSTORAGE_PATH', ...options }).then(
        () => undefined,
        (reason: unknown) => reason as Error,
      )
      expect(XComError.is(error), `${url}: ${String(error)}`).toBe(true)
      expect((error as Error).message, url).not.toContain(secret)
      expect((error as Error).message).toContain('XCOM_OBJECTSTORAGE_PATH')
    }
  })
})

describe('gc when leftovers cannot be listed', () => {
  it('reports the failure and keeps the rest of the sweep', async () => {
    const store = new MemoryObjectStore()
    Object.assign(store, { removeIncomplete: () => Promise.reject(new Error('listing uploads denied')) })
    const { xcom } = fileXCom({ threshold: 0, store })
    await xcom.push(ID, 'value')
    const report = await xcom.gc({ graceMs: 0 })
    expect(report.sweep?.scanned).toBe(1)
    expect(report.sweep?.failed.join()).toContain('listing uploads denied')
    expect(await xcom.pull(ID)).toBe('value')
  })
})
