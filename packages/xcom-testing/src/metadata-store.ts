import { type MetadataStore, XComError, type XComKey, type XComRecord } from '@xcom/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

/** Options of {@link describeMetadataStore}. */
export interface MetadataStoreSuiteOptions {
  /**
   * Called after each test, once the suite has closed its stores, to drop databases or files: every one the factory
   * made since the last call (the identity case makes a second database).
   */
  cleanup?: () => Promise<void> | void
  /**
   * Opens another store on the same database as `store` (which is still open), for the case checking that the
   * identity survives reopening; without it that case is skipped (a database that lives as long as its store).
   */
  reopen?: (store: MetadataStore) => MetadataStore | Promise<MetadataStore>
  /** Text that must never appear in `identity().description`, e.g. the password of the connection. */
  secrets?: readonly string[]
  /** Size of the large `getMany` case. @default 10_000 */
  manyCount?: number
}

let counter = 0

/** Builds a record for tests; every call gets a new id. */
export function testRecord(
  key: Partial<XComKey> & { dagId?: string },
  overrides: Partial<XComRecord> = {},
): XComRecord {
  counter += 1
  return {
    dagId: 'dag',
    runId: 'run',
    taskId: 'task',
    mapIndex: -1,
    key: 'return_value',
    ...key,
    id: `rec-${process.pid}-${counter}-${Math.random().toString(36).slice(2)}`,
    value: { kind: 'inline', data: JSON.stringify({ n: counter }), size: 10 },
    createdAt: new Date(1_700_000_000_000 + counter),
    ...overrides,
  }
}

/** A record whose value is a reference (so replacing or deleting it queues a purge). */
export function testReference(key: Partial<XComKey>, uri = `memory://bucket/${counter + 1}`): XComRecord {
  return testRecord(key, {
    value: {
      kind: 'reference',
      ref: { uri, checksum: 'sha256:00', codec: 'none', nested: { a: [1, 2] } },
      size: 1234,
    },
  })
}

const identityOf = (record: XComRecord): XComKey => ({
  dagId: record.dagId,
  runId: record.runId,
  taskId: record.taskId,
  mapIndex: record.mapIndex,
  key: record.key,
})

/**
 * The conformance suite every {@link MetadataStore} must pass: atomic replace with purge queuing, one-call getMany in
 * the stable order, delete-by-query, pagination, pending purges, expiry queries, concurrent replaces, and a stable
 * database identity.
 * @param factory makes a new, EMPTY store on a database of its own: once before each test, and once more in the
 *   case checking that another database has another identity.
 */
export function describeMetadataStore(
  name: string,
  factory: () => MetadataStore | Promise<MetadataStore>,
  options: MetadataStoreSuiteOptions = {},
): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    let store: MetadataStore
    beforeEach(async () => {
      store = await factory()
    })
    afterEach(async () => {
      await store.close()
      await options.cleanup?.()
    })

    it('stores and returns a record unchanged, dates and references included', async () => {
      const inline = testRecord({ taskId: 'inline' }, { expiresAt: new Date('2030-01-02T03:04:05.678Z') })
      const reference = testReference({ taskId: 'ref', mapIndex: 7, key: 'k' })
      expect(await store.put(inline)).toBeUndefined()
      expect(await store.put(reference)).toBeUndefined()
      expect(await store.get(identityOf(inline))).toEqual(inline)
      const read = await store.get(identityOf(reference))
      expect(read).toEqual(reference)
      expect(read?.createdAt).toBeInstanceOf(Date)
      expect(read?.expiresAt).toBeUndefined()
    })

    it('returns undefined for a missing identity, including one differing in a single field', async () => {
      const record = testRecord({})
      await store.put(record)
      for (const change of [{ dagId: 'x' }, { runId: 'x' }, { taskId: 'x' }, { mapIndex: 0 }, { key: 'x' }]) {
        expect(await store.get({ ...identityOf(record), ...change })).toBeUndefined()
      }
    })

    it('keeps unusual but valid identifiers apart and intact', async () => {
      const names = ['a/b', 'a\\b', '..', '%2e%2e', "it's", 'ü ñ 漢字 😀', 'x'.repeat(250), 'a b']
      for (const taskId of names) await store.put(testRecord({ taskId, key: `${taskId}-k` }))
      for (const taskId of names) {
        expect(
          (await store.get({ dagId: 'dag', runId: 'run', taskId, mapIndex: -1, key: `${taskId}-k` }))?.taskId,
        ).toBe(taskId)
      }
      expect(await store.getMany({ dagId: 'dag' })).toHaveLength(names.length)
    })

    it('replaces atomically, returns the replaced record and queues only a replaced reference for purge', async () => {
      const first = testReference({})
      const second = testRecord({})
      const third = testRecord({})
      expect(await store.put(first)).toBeUndefined()
      expect(await store.put(second)).toEqual(first)
      expect(await store.put(third)).toEqual(second)
      expect(await store.get(identityOf(third))).toEqual(third)
      const purges = await store.pendingPurges(10)
      expect(purges.map((purge) => purge.id)).toEqual([first.id])
      expect(purges[0]?.record).toEqual(first)
      expect(purges[0]?.queuedAt).toBeInstanceOf(Date)
    })

    it('rewrites a row only while it is the expected record (replaceIf), queuing the replaced reference', async (context) => {
      const replaceIf = store.replaceIf?.bind(store)
      if (!replaceIf) return context.skip('the store has no replaceIf (optional: key rotation needs it)')
      const first = testReference({})
      await store.put(first)
      const rewritten = testReference({})
      expect(await replaceIf(rewritten, first.id)).toEqual(first)
      expect(await store.get(identityOf(first))).toEqual(rewritten)
      expect((await store.pendingPurges(10)).map((purge) => purge.id)).toEqual([first.id])
      // The row is another record now (a concurrent push won): nothing is written, nothing queued.
      const stale = testReference({})
      expect(await replaceIf(stale, first.id)).toBeUndefined()
      expect(await store.get(identityOf(first))).toEqual(rewritten)
      expect(await replaceIf(testRecord({ taskId: 'absent' }), first.id)).toBeUndefined()
      expect(await store.get(identityOf(testRecord({ taskId: 'absent' })))).toBeUndefined()
      expect(await store.pendingPurges(10)).toHaveLength(1)
      // Racing a put and a rewrite of the same record: exactly one row, every other record replaced or refused.
      const racers = Array.from({ length: 10 }, () => testReference({}))
      const results = await Promise.all(
        racers.map((record, index) =>
          index % 2 === 0 ? store.put(record) : replaceIf(record, rewritten.id),
        ),
      )
      const rows = await store.getMany({ dagId: first.dagId, taskId: first.taskId })
      expect(rows).toHaveLength(1)
      const replaced = results.filter((record): record is XComRecord => record !== undefined).map((r) => r.id)
      expect(new Set(replaced).size).toBe(replaced.length)
      expect(replaced.filter((id) => id === rewritten.id)).toHaveLength(1)
    })

    it('answers getMany in the stable order, filtered by task ids, map indexes and keys', async () => {
      const records = [
        testRecord({ taskId: 'b', mapIndex: 2 }),
        testRecord({ taskId: 'a', mapIndex: 10 }),
        testRecord({ taskId: 'a', mapIndex: 2, key: 'z' }),
        testRecord({ taskId: 'a', mapIndex: 2, key: 'b' }),
        testRecord({ taskId: 'a', mapIndex: -1 }),
        testRecord({ taskId: 'c' }),
        testRecord({ runId: 'other', taskId: 'a' }),
        testRecord({ dagId: 'other', taskId: 'a' }),
      ]
      for (const record of records) await store.put(record)
      const all = await store.getMany({ dagId: 'dag', runId: 'run' })
      expect(all.map((r) => `${r.taskId}:${r.mapIndex}:${r.key}`)).toEqual([
        'a:-1:return_value',
        'a:2:b',
        'a:2:z',
        'a:10:return_value',
        'b:2:return_value',
        'c:-1:return_value',
      ])
      expect(
        (await store.getMany({ dagId: 'dag', runId: 'run', taskId: ['a', 'c'], mapIndex: [2, -1] })).length,
      ).toBe(4)
      expect(
        (await store.getMany({ dagId: 'dag', runId: 'run', taskId: 'a', key: 'z' })).map((r) => r.id),
      ).toEqual([records[2]?.id])
      expect(await store.getMany({ dagId: 'dag', runId: 'run', taskId: [] })).toEqual([])
      expect(await store.getMany({ dagId: 'nothing' })).toEqual([])
      expect((await store.getMany({})).length).toBe(records.length)
    })

    it(`returns ${options.manyCount ?? 10_000} mapped XComs from one getMany`, async () => {
      const count = options.manyCount ?? 10_000
      const puts: Promise<unknown>[] = []
      for (let mapIndex = count - 1; mapIndex >= 0; mapIndex--)
        puts.push(store.put(testRecord({ taskId: 'mapped', mapIndex })))
      await Promise.all(puts)
      const many = await store.getMany({
        dagId: 'dag',
        runId: 'run',
        taskId: ['mapped'],
        mapIndex: Array.from({ length: count }, (_, i) => i),
      })
      expect(many).toHaveLength(count)
      expect(many.every((record, index) => record.mapIndex === index)).toBe(true)
    }, 120_000)

    it('deletes by query, returns what it deleted and queues deleted references', async () => {
      const keep = testReference({ runId: 'keep' })
      const gone = [
        testReference({ taskId: 't1' }),
        testRecord({ taskId: 't2' }),
        testReference({ taskId: 't3', mapIndex: 4 }),
      ]
      for (const record of [keep, ...gone]) await store.put(record)
      expect(await store.delete({ dagId: 'dag', runId: 'nothing' })).toEqual([])
      const deleted = await store.delete({ dagId: 'dag', runId: 'run' })
      expect(deleted.map((r) => r.id).sort()).toEqual(gone.map((r) => r.id).sort())
      expect(deleted.find((r) => r.taskId === 't3')).toEqual(gone[2])
      expect(await store.getMany({ dagId: 'dag' })).toEqual([keep])
      const purged = (await store.pendingPurges(100)).map((purge) => purge.id).sort()
      expect(purged).toEqual([gone[0]?.id, gone[2]?.id].sort())
      expect(await store.delete({ dagId: 'dag', runId: 'run' })).toEqual([])
    })

    it('deletes by task id, map index and key lists', async () => {
      for (const taskId of ['a', 'b', 'c'])
        for (const mapIndex of [0, 1]) await store.put(testRecord({ taskId, mapIndex }))
      const deleted = await store.delete({ dagId: 'dag', runId: 'run', taskId: ['a', 'c'], mapIndex: 1 })
      expect(deleted.map((r) => `${r.taskId}${r.mapIndex}`).sort()).toEqual(['a1', 'c1'])
      expect((await store.getMany({ dagId: 'dag' })).map((r) => `${r.taskId}${r.mapIndex}`)).toEqual([
        'a0',
        'b0',
        'b1',
        'c0',
      ])
    })

    it('resolves purges by id and ignores unknown ids', async () => {
      const refs = [
        testReference({ taskId: 'a' }),
        testReference({ taskId: 'b' }),
        testReference({ taskId: 'c' }),
      ]
      for (const record of refs) await store.put(record)
      await store.delete({ dagId: 'dag' })
      expect(await store.pendingPurges(2)).toHaveLength(2)
      await store.resolvePurges([refs[1]?.id ?? '', 'unknown-id'])
      expect((await store.pendingPurges(10)).map((p) => p.id).sort()).toEqual(
        [refs[0]?.id, refs[2]?.id].sort(),
      )
      await store.resolvePurges([])
      await store.resolvePurges(refs.map((r) => r.id))
      expect(await store.pendingPurges(10)).toEqual([])
    })

    it('pages through records in the stable order with opaque cursors', async () => {
      for (let i = 0; i < 10; i++) await store.put(testRecord({ taskId: `t${i % 3}`, mapIndex: i }))
      const seen: XComRecord[] = []
      let after: string | undefined
      let pages = 0
      do {
        const page = await store.list({ dagId: 'dag' }, { limit: 3, after })
        expect(page.records.length).toBeLessThanOrEqual(3)
        seen.push(...page.records)
        after = page.next
        pages++
      } while (after !== undefined)
      expect(pages).toBe(4)
      expect(seen).toEqual(await store.getMany({ dagId: 'dag' }))
      const exact = await store.list({ dagId: 'dag', taskId: 't0' }, { limit: 4 })
      expect(exact.records).toHaveLength(4)
      expect(exact.next).toBeUndefined()
      await expect(store.list({}, { limit: 3, after: 'not-a-cursor' })).rejects.toSatisfy((error) =>
        XComError.is(error, 'E_INVALID_KEY'),
      )
    })

    it('selects by expiry and creation time', async () => {
      const expired = testRecord({ taskId: 'old' }, { expiresAt: new Date('2020-01-01T00:00:00Z') })
      const later = testRecord({ taskId: 'new' }, { expiresAt: new Date('2999-01-01T00:00:00Z') })
      const never = testRecord({ taskId: 'never' }, { createdAt: new Date('2010-01-01T00:00:00Z') })
      for (const record of [expired, later, never]) await store.put(record)
      const now = new Date('2026-01-01T00:00:00Z')
      expect((await store.getMany({ expiredBefore: now })).map((r) => r.id)).toEqual([expired.id])
      expect(
        (await store.getMany({ createdBefore: new Date('2015-01-01T00:00:00Z') })).map((r) => r.id),
      ).toEqual([never.id])
      expect((await store.delete({ expiredBefore: now })).map((r) => r.id)).toEqual([expired.id])
      expect(await store.getMany({})).toHaveLength(2)
    })

    it('keeps one row per identity under concurrent replaces, and returns each replaced record exactly once', async () => {
      const writers = Array.from({ length: 20 }, () => testReference({ taskId: 'race' }))
      const replaced = await Promise.all(writers.map((record) => store.put(record)))
      const returned = replaced.filter((record): record is XComRecord => record !== undefined)
      expect(returned).toHaveLength(19)
      const rows = await store.getMany({ dagId: 'dag', taskId: 'race' })
      expect(rows).toHaveLength(1)
      const survivor = rows[0]?.id
      const ids = new Set([...returned.map((r) => r.id), survivor])
      expect(ids.size).toBe(20)
      expect((await store.pendingPurges(100)).map((p) => p.id).sort()).toEqual(
        returned.map((r) => r.id).sort(),
      )
    })

    it('has an identity: an id of 1-64 [A-Za-z0-9_-] and a description without secrets, the same on every call', async () => {
      const identity = await store.identity()
      expect(identity.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
      expect(typeof identity.description).toBe('string')
      expect(identity.description.length).toBeGreaterThan(0)
      for (const secret of options.secrets ?? []) expect(identity.description).not.toContain(secret)
      expect(await Promise.all([store.identity(), store.identity()])).toEqual([identity, identity])
      await store.put(testReference({}))
      await store.delete({})
      expect(await store.identity()).toEqual(identity)
    })

    it.skipIf(options.reopen === undefined)(
      'keeps its identity when the database is opened again',
      async () => {
        const { id } = await store.identity()
        const record = testRecord({})
        await store.put(record)
        const reopened = await (options.reopen as NonNullable<typeof options.reopen>)(store)
        try {
          expect(await reopened.get(identityOf(record))).toEqual(record)
          expect((await reopened.identity()).id).toBe(id)
        } finally {
          await reopened.close()
        }
      },
    )

    it('gives another database another identity', async () => {
      const other = await factory()
      try {
        expect((await other.identity()).id).not.toBe((await store.identity()).id)
      } finally {
        await other.close()
      }
    })
  })
}
