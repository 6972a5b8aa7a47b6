import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzip } from '@xcom/compression'
import { XCom, XComError, type XComKey, type XComRecord } from '@xcom/core'
import { FileObjectStore, isObjectKey, ObjectStoreXComBackend, recordIdOf } from '@xcom/objectstore'
import { SqliteMetadataStore } from '@xcom/sqlite'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const identity = fc.record({
  dagId: fc.constantFrom('d1', 'D1', 'd2'), // differing only in case on purpose
  runId: fc.constantFrom('r1', 'r/2'),
  taskId: fc.constantFrom('t1', 't..2'),
  mapIndex: fc.constantFrom(-1, 0, 3),
  key: fc.constantFrom('return_value', 'k'),
})

const value = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ minLength: 100, maxLength: 3000 }), // over the threshold: offloaded
  fc.uint8Array({ maxLength: 400 }).map((bytes) => new Uint8Array(bytes)), // raw bytes, inline or offloaded
  fc.record({ when: fc.date({ noInvalidDate: true }), amount: fc.bigInt(), tags: fc.array(fc.string()) }),
  fc.constant('x'.repeat(5000)), // compressible
)

type Op =
  | { op: 'push'; id: XComKey; value: unknown }
  | { op: 'pull'; id: XComKey }
  | { op: 'pullMany'; dagId: string; runId: string }
  | { op: 'clear'; dagId: string; runId?: string; taskId?: string }
  | { op: 'gc' }

const operation: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('push' as const), id: identity, value }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('pull' as const), id: identity }) },
  {
    weight: 1,
    arbitrary: identity.map(({ dagId, runId }) => ({ op: 'pullMany' as const, dagId, runId })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(identity, fc.boolean(), fc.boolean()).map(([id, byRun, byTask]) => ({
      op: 'clear' as const,
      dagId: id.dagId,
      ...(byRun ? { runId: id.runId } : {}),
      ...(byRun && byTask ? { taskId: id.taskId } : {}),
    })),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'gc' as const }) },
)

const slot = (id: XComKey) => JSON.stringify([id.dagId, id.runId, id.taskId, id.mapIndex, id.key])

/** After a gc: every reference row has its object, and every object of the layout belongs to a row. */
async function checkNoOrphanNoDangling(xcom: XCom, store: FileObjectStore): Promise<void> {
  const rows: XComRecord[] = []
  let after: string | undefined
  do {
    const page = await xcom.list({}, { limit: 100, after })
    rows.push(...page.records)
    after = page.next
  } while (after)
  expect(await xcom.metadata.pendingPurges(10)).toEqual([])
  const ids = new Set(rows.map((row) => row.id.toLowerCase()))
  for (const row of rows) {
    if (row.value.kind !== 'reference') continue
    expect(await store.head(row.value.ref.objectKey as string), `object of ${slot(row)}`).toBeDefined()
  }
  for await (const info of store.list('')) {
    if (isObjectKey(info.objectKey))
      expect(ids.has(recordIdOf(info.objectKey)), `orphan ${info.objectKey}`).toBe(true)
  }
}

describe('the whole API on file:// + SQLite (property)', () => {
  it('pulls the last value pushed, or E_NOT_FOUND; gc leaves no orphan and no dangling row', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        async (ops, compress) => {
          const dir = mkdtempSync(join(tmpdir(), 'xcom-property-'))
          const store = new FileObjectStore({ root: join(dir, 'objects') })
          const xcom = new XCom({
            metadata: new SqliteMetadataStore({ path: join(dir, 'xcom.db') }),
            backend: new ObjectStoreXComBackend({
              store,
              threshold: 64,
              ...(compress ? { compression: gzip() } : {}),
            }),
          })
          const model = new Map<string, { id: XComKey; value: unknown }>()
          try {
            for (const step of ops) {
              if (step.op === 'push') {
                await xcom.push(step.id, step.value)
                model.set(slot(step.id), { id: step.id, value: step.value })
              } else if (step.op === 'pull') {
                const expected = model.get(slot(step.id))
                if (expected) expect(await xcom.pull(step.id)).toEqual(expected.value)
                else {
                  const error = await xcom.pull(step.id).then(
                    () => undefined,
                    (reason: unknown) => reason,
                  )
                  expect(XComError.is(error, 'E_NOT_FOUND'), String(error)).toBe(true)
                }
              } else if (step.op === 'pullMany') {
                const pulled = await xcom.pullMany({ dagId: step.dagId, runId: step.runId })
                const expected = [...model.values()].filter(
                  ({ id }) => id.dagId === step.dagId && id.runId === step.runId,
                )
                expect(pulled).toHaveLength(expected.length)
                for (const item of pulled) expect(item.value).toEqual(model.get(slot(item))?.value)
              } else if (step.op === 'clear') {
                const { op: _op, ...query } = step
                const report = await xcom.clear(query)
                expect(report.failedPurges).toBe(0)
                for (const [key, { id }] of model) {
                  const matches =
                    id.dagId === step.dagId &&
                    (step.runId === undefined || id.runId === step.runId) &&
                    (step.taskId === undefined || id.taskId === step.taskId)
                  if (matches) model.delete(key)
                }
                expect(report.deleted).toBeGreaterThanOrEqual(0)
              } else {
                const report = await xcom.gc({ graceMs: 0 })
                expect(report.purgesFailed).toBe(0)
                await checkNoOrphanNoDangling(xcom, store)
              }
            }
            await xcom.gc({ graceMs: 0 })
            await checkNoOrphanNoDangling(xcom, store)
            for (const { id, value } of model.values()) expect(await xcom.pull(id)).toEqual(value)
          } finally {
            await xcom.close()
            rmSync(dir, { recursive: true, force: true })
          }
        },
      ),
      { numRuns: 100, seed: 20261202 },
    )
  })
})
