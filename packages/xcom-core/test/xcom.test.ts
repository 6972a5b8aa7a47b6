import { describe, expect, it } from 'vitest'
import { BaseXComBackend, MemoryMetadataStore, XCom, XComError, type XComRecord } from '../src/index.ts'

import { ExternalBackend } from './fixtures/external-backend.ts'

const id = { dagId: 'dag', runId: 'run', taskId: 'task' }

async function rejection(promise: Promise<unknown>): Promise<XComError> {
  try {
    await promise
  } catch (error) {
    expect(XComError.is(error)).toBe(true)
    return error as XComError
  }
  throw new Error('expected an XComError')
}

describe('XCom with the default backend', () => {
  it('pushes and pulls values inline, with defaults for mapIndex and key', async () => {
    const metadata = new MemoryMetadataStore()
    const xcom = new XCom({ metadata })
    const value = { rows: [1, 2, 3], when: new Date('2024-01-01T00:00:00Z'), big: 10n ** 20n }
    const record = await xcom.push(id, value)
    expect(record).toMatchObject({ ...id, mapIndex: -1, key: 'return_value' })
    expect(record.value.kind).toBe('inline')
    expect(await xcom.pull(id)).toEqual(value)
    expect(await xcom.pull({ ...id, mapIndex: -1, key: 'return_value' })).toEqual(value)
  })

  it('fails a missing pull with E_NOT_FOUND naming the XCom, or returns the default', async () => {
    const xcom = new XCom({ metadata: new MemoryMetadataStore() })
    const error = await rejection(xcom.pull(id))
    expect(error.code).toBe('E_NOT_FOUND')
    expect(error.xcom).toBe('dag/run/task/return_value')
    expect(error.message).toMatch(/ in memory:\/\/ \([0-9a-f-]+\): push it first/)
    expect(error.uri).toBe((await xcom.metadata.identity()).description)
    expect(await xcom.pull(id, { default: 'fallback' })).toBe('fallback')
    expect(await xcom.pull(id, { default: undefined })).toBeUndefined()
  })

  it('names the database looked in for every missing XCom, expired or never pushed', async () => {
    let now = new Date('2024-01-01T00:00:00Z')
    const xcom = new XCom({ metadata: new MemoryMetadataStore(), now: () => now })
    const { description } = await xcom.metadata.identity()
    await xcom.push(id, 1, { expiresAt: new Date('2024-01-02T00:00:00Z') })
    now = new Date('2024-01-03T00:00:00Z')
    const expired = await rejection(xcom.pull(id))
    expect(expired.message).toContain(`(it expired) in ${description}`)
    const stream = await rejection(xcom.pullStream({ ...id, key: 'never' }))
    expect(stream.code).toBe('E_NOT_FOUND')
    expect(stream.message).toContain(` in ${description}: push it first.`)
    // A database that cannot say who it is still gives the plain message.
    const anonymous = new MemoryMetadataStore()
    anonymous.identity = () => Promise.reject(new Error('no identity'))
    const plain = await rejection(new XCom({ metadata: anonymous }).pull(id))
    expect(plain.message).toBe(
      'No XCom dag/run/task/return_value: push it first, or pass { default } to pull.',
    )
  })

  it('validates identities before any I/O', async () => {
    const metadata = new MemoryMetadataStore()
    const xcom = new XCom({ metadata })
    for (const bad of [
      { ...id, taskId: '' },
      { ...id, key: 'a\u0000' },
      { ...id, mapIndex: -2 },
      { ...id, runId: 'x'.repeat(251) },
    ]) {
      expect((await rejection(xcom.push(bad, 1))).code).toBe('E_INVALID_KEY')
      expect((await rejection(xcom.pull(bad))).code).toBe('E_INVALID_KEY')
    }
    expect((await rejection(xcom.push(id, 1, { expiresAt: new Date('nope') }))).code).toBe('E_INVALID_KEY')
    expect((await rejection(xcom.clear({ dagId: '' }))).code).toBe('E_INVALID_KEY')
    expect((await rejection(xcom.pullMany({ dagId: 'd', runId: 'r', mapIndex: [1.5] }))).code).toBe(
      'E_INVALID_KEY',
    )
    // A misspelt field would select more than meant (all of the run, all of the DAG): it is refused instead.
    for (const misspelt of [{ taskIds: ['t'] }, { map_index: 1 }, { keys: ['k'] }]) {
      const pullMany = await rejection(xcom.pullMany({ dagId: 'd', runId: 'r', ...misspelt } as never))
      expect(pullMany.code).toBe('E_INVALID_KEY')
      expect(pullMany.message).toContain(Object.keys(misspelt)[0])
      expect((await rejection(xcom.clear({ dagId: 'd', ...misspelt } as never))).code).toBe('E_INVALID_KEY')
    }
    expect(await metadata.getMany({})).toEqual([])
  })

  it('writes nothing when the value cannot be serialized, and names the XCom and the field', async () => {
    const metadata = new MemoryMetadataStore()
    const xcom = new XCom({ metadata })
    await xcom.push(id, 'old')
    const error = await rejection(xcom.push(id, { rows: [{ fn: () => 1 }] }))
    expect(error.code).toBe('E_NOT_SERIALIZABLE')
    expect(error.xcom).toBe('dag/run/task/return_value')
    expect(error.message).toContain('rows[0].fn')
    expect(await xcom.pull(id)).toBe('old')
  })

  it('answers pullMany with one query in a stable order and leaves out other runs', async () => {
    const metadata = new MemoryMetadataStore()
    let getManyCalls = 0
    const getMany = metadata.getMany.bind(metadata)
    metadata.getMany = (query) => {
      getManyCalls++
      return getMany(query)
    }
    const xcom = new XCom({ metadata })
    for (const mapIndex of [3, 1, 2, 0]) await xcom.push({ ...id, taskId: 'mapped', mapIndex }, mapIndex * 10)
    await xcom.push({ ...id, taskId: 'other' }, 'o')
    await xcom.push({ ...id, runId: 'run2', taskId: 'mapped', mapIndex: 0 }, 'elsewhere')
    const pulled = await xcom.pullMany({ dagId: 'dag', runId: 'run', taskId: ['mapped'] })
    expect(getManyCalls).toBe(1)
    expect(pulled.map((x) => [x.mapIndex, x.value])).toEqual([
      [0, 0],
      [1, 10],
      [2, 20],
      [3, 30],
    ])
    expect(
      (await xcom.pullMany({ dagId: 'dag', runId: 'run', mapIndex: [1, -1] })).map((x) => x.value),
    ).toEqual([10, 'o'])
  })

  it('treats an expired value as missing and removes it with purgeExpired', async () => {
    let now = new Date('2025-01-01T00:00:00Z')
    const metadata = new MemoryMetadataStore()
    const xcom = new XCom({ metadata, now: () => now })
    await xcom.push(id, 'short', { expiresAt: new Date('2025-01-02T00:00:00Z') })
    await xcom.push({ ...id, key: 'keep' }, 'long')
    expect(await xcom.pull(id)).toBe('short')
    now = new Date('2025-01-03T00:00:00Z')
    expect((await rejection(xcom.pull(id))).message).toContain('expired')
    expect(await xcom.pullMany({ dagId: 'dag', runId: 'run' })).toHaveLength(1)
    expect(await xcom.purgeExpired()).toEqual({ deleted: 1, purged: 0, failedPurges: 0 }) // inline values own no object
    expect(await metadata.getMany({})).toHaveLength(1)
  })

  it('cannot read a reference and says which backend to configure', async () => {
    const metadata = new MemoryMetadataStore()
    await new XCom({ metadata, backend: new ExternalBackend() }).push(id, 1)
    const error = await rejection(new XCom({ metadata, backend: new BaseXComBackend() }).pull(id))
    expect(error.code).toBe('E_BACKEND')
    expect(error.message).toContain('ObjectStoreXComBackend')
    expect(error.message).toContain('AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH')
    expect(error.message).toContain('AIRFLOW__CORE__XCOM_BACKEND')
  })

  it('has no stream for inline values', async () => {
    const xcom = new XCom({ metadata: new MemoryMetadataStore() })
    await xcom.push(id, 1)
    expect((await rejection(xcom.pullStream(id))).code).toBe('E_BACKEND')
    expect((await rejection(xcom.pullStream({ ...id, key: 'nope' }))).code).toBe('E_NOT_FOUND')
  })

  it('displays and lists rows without reading values', async () => {
    const xcom = new XCom({ metadata: new MemoryMetadataStore() })
    await xcom.push(id, 'x'.repeat(500))
    const page = await xcom.list({ dagId: 'dag' })
    expect(page.records).toHaveLength(1)
    expect(xcom.display(page.records[0] as XComRecord)).toMatch(/\.\.\. \(502 bytes\)$/)
  })

  it('pages through every selected row, a page at a time', async () => {
    const xcom = new XCom({ metadata: new MemoryMetadataStore() })
    for (let index = 0; index < 5; index++) await xcom.push({ ...id, mapIndex: index }, index)
    await xcom.push({ ...id, dagId: 'other' }, 'left out')
    const pages: number[][] = []
    for await (const page of xcom.pages({ dagId: 'dag' }, { pageSize: 2 }))
      pages.push(page.map((record) => record.mapIndex))
    expect(pages).toEqual([[0, 1], [2, 3], [4]])
    await expect(
      xcom
        .pages({ dagIds: 'dag' } as never)
        [Symbol.asyncIterator]()
        .next(),
    ).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    })
  })

  it('requires a metadata store', () => {
    expect(() => new XCom({} as never)).toThrow(XComError)
  })
})

describe('XCom purging through the backend', () => {
  it('purges the replaced value on push and every cleared value on clear', async () => {
    const backend = new ExternalBackend()
    const metadata = new MemoryMetadataStore()
    const xcom = new XCom({ metadata, backend })
    await xcom.push(id, 'v1')
    await xcom.push(id, 'v2')
    expect(backend.objects.size).toBe(1)
    expect(await xcom.pull(id)).toBe('v2')
    await xcom.push({ ...id, taskId: 't2' }, 'x')
    await xcom.push({ ...id, runId: 'r2' }, 'kept')
    expect(await xcom.clear({ dagId: 'dag', runId: 'run' })).toEqual({
      deleted: 2,
      purged: 2,
      failedPurges: 0,
    })
    expect(backend.objects.size).toBe(1)
    expect(await metadata.pendingPurges(10)).toEqual([])
    expect(await xcom.pull({ ...id, runId: 'r2' })).toBe('kept')
  })

  it('keeps a failed purge recorded, never a row pointing at a deleted object, and gc retries it', async () => {
    const backend = new ExternalBackend()
    const metadata = new MemoryMetadataStore()
    const xcom = new XCom({ metadata, backend })
    await xcom.push(id, 'v1')
    backend.failPurges = true
    await xcom.push(id, 'v2')
    expect(await xcom.clear({ dagId: 'dag' })).toEqual({ deleted: 1, purged: 0, failedPurges: 1 })
    expect(await metadata.getMany({})).toEqual([])
    expect(await metadata.pendingPurges(10)).toHaveLength(2)
    expect(backend.objects.size).toBe(2)
    backend.failPurges = false
    const dry = await xcom.gc({ graceMs: 0, dryRun: true })
    // Both objects are still named by their pending purges: not garbage yet.
    expect(dry).toEqual({
      dryRun: true,
      purgesRetried: 2,
      purgesFailed: 0,
      sweep: { scanned: 2, deleted: 0, failed: [] },
    })
    expect(await metadata.pendingPurges(10)).toHaveLength(2)
    expect(backend.objects.size).toBe(2)
    const progress: unknown[] = []
    const report = await xcom.gc({ graceMs: 0, onProgress: (step) => progress.push(step) })
    expect(report).toMatchObject({ dryRun: false, purgesRetried: 2, purgesFailed: 0 })
    expect(progress).toEqual([
      { phase: 'purges', done: 1, total: 2 },
      { phase: 'purges', done: 2, total: 2 },
    ])
    expect(backend.objects.size).toBe(0)
    expect(await metadata.pendingPurges(10)).toEqual([])
  })

  it('removes the uploaded object when the row cannot be written', async () => {
    const backend = new ExternalBackend()
    const metadata = new MemoryMetadataStore()
    metadata.put = async () => {
      throw new Error('database is locked')
    }
    const error = await rejection(new XCom({ metadata, backend }).push(id, 'v'))
    expect(error.code).toBe('E_BACKEND')
    expect(error.message).toContain('database is locked')
    expect(backend.objects.size).toBe(0)
  })

  it('keeps the stored value when the row write failed ambiguously but committed', async () => {
    const backend = new ExternalBackend()
    const metadata = new MemoryMetadataStore()
    const put = metadata.put.bind(metadata)
    metadata.put = async (record) => {
      await put(record)
      throw new Error('connection lost after COMMIT')
    }
    const xcom = new XCom({ metadata, backend })
    const record = await xcom.push(id, 'v')
    expect((await metadata.get({ ...id, mapIndex: -1, key: 'return_value' }))?.id).toBe(record.id)
    expect(await xcom.pull(id)).toBe('v')
    expect(backend.objects.size).toBe(1)
  })

  it('leaves the stored value to gc when it cannot tell whether the row was written', async () => {
    const backend = new ExternalBackend()
    const metadata = new MemoryMetadataStore()
    metadata.put = async () => {
      throw new Error('connection lost')
    }
    metadata.get = async () => {
      throw new Error('connection lost')
    }
    expect((await rejection(new XCom({ metadata, backend }).push(id, 'v'))).code).toBe('E_BACKEND')
    expect(backend.objects.size).toBe(1)
  })

  it('keeps a push or clear whose purge ran but could not be marked done a success, with a warning', async () => {
    const metadata = new MemoryMetadataStore()
    metadata.resolvePurges = async () => {
      throw new Error('connection lost')
    }
    const warnings: string[] = []
    const logger = { debug() {}, info() {}, warn: (message: string) => warnings.push(message), error() {} }
    const backend = new ExternalBackend()
    const xcom = new XCom({ metadata, backend, logger })
    await xcom.push(id, 'a')
    await xcom.push(id, 'b') // the replaced value's object is deleted; marking its purge done fails
    expect(await xcom.pull(id)).toBe('b')
    expect(backend.objects.size).toBe(1)
    expect(await xcom.clear({ dagId: 'dag' })).toMatchObject({ deleted: 1, purged: 1, failedPurges: 0 })
    expect(backend.objects.size).toBe(0)
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toContain('the next gc() resolves them')
    expect((await metadata.pendingPurges(10)).length).toBe(2) // still recorded: gc() finds nothing left to delete
  })

  it('resolves purges only for references, the only values stores queue', async () => {
    const metadata = new MemoryMetadataStore()
    const resolved: string[][] = []
    const resolve = metadata.resolvePurges.bind(metadata)
    metadata.resolvePurges = async (ids) => {
      resolved.push([...ids])
      return resolve(ids)
    }
    const xcom = new XCom({ metadata })
    await xcom.push(id, 1)
    await xcom.push(id, 2)
    await xcom.clear({ dagId: 'dag' })
    expect(resolved).toEqual([])
  })

  it('sweeps objects that no row references', async () => {
    const backend = new ExternalBackend()
    const xcom = new XCom({ metadata: new MemoryMetadataStore(), backend })
    await xcom.push(id, 'live')
    backend.objects.set('orphan', '"x"')
    const report = await xcom.gc({ graceMs: 0 })
    expect(report.sweep).toEqual({ scanned: 2, deleted: 1, failed: [] })
    expect(await xcom.pull(id)).toBe('live')
  })

  it('keeps a backend error code and adds the XCom to the message', async () => {
    const backend = new ExternalBackend()
    const xcom = new XCom({ metadata: new MemoryMetadataStore(), backend })
    await xcom.push(id, 'v')
    backend.objects.clear()
    const error = await rejection(xcom.pull(id))
    expect(error.code).toBe('E_NOT_FOUND')
    expect(error.uri).toMatch(/^ext:\/\//)
    expect(error.message).toContain('dag/run/task/return_value')
  })
})
