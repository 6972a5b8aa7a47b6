import { DatabaseSync, type SQLInputValue } from 'node:sqlite'
import { XCom, type XComKey } from '@xcom/core'
import { MemoryObjectStore, ObjectStoreXComBackend } from '@xcom/objectstore'
import { expectDamagedRowsHandled } from '@xcom/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SqliteMetadataStore } from '../src/index.ts'

const COLUMNS = [
  'dag_id',
  'run_id',
  'task_id',
  'map_index',
  'key',
  'id',
  'kind',
  'data',
  'ref',
  'size',
  'created_at',
  'expires_at',
] as const
/** Fields of a reference (and a foreign one) that mutations set or delete. */
const REF_FIELDS = ['uri', 'key', 'size', 'storedSize', 'codec', 'format', 'checksum', 'plainJson', 'extra']

/** Values pushed before the damage: inline ones and ones offloaded past the 16-byte threshold. */
const VALUES: unknown[] = [
  { n: 1 },
  'offloaded text, longer than sixteen bytes',
  new Uint8Array(40).fill(7),
  [1, 2, 3],
  { rows: Array.from({ length: 10 }, (_, i) => i) },
  null,
]

/** An SQL value of any storage class, bound as `sql`. */
type SqlValue = { sql: string; value?: SQLInputValue }
const bound = (value: SQLInputValue): SqlValue => ({ sql: '?', value })
const sqlValue: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.uint8Array({ maxLength: 24 }).map(bound),
  fc.uint8Array({ maxLength: 24 }).map((value) => ({ sql: 'CAST(? AS TEXT)', value })),
  fc.string({ unit: 'binary', maxLength: 24 }).map(bound),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(bound),
  fc.integer({ min: -3, max: 3 }).map(bound),
  fc.double().map(bound),
  fc.constant({ sql: 'NULL' }),
  fc
    .constantFrom('inline', 'reference', '', '{}', '[]', 'null', '"x"', '{"uri":"memory://x"}', 'dag', 'run')
    .map(bound),
)

/** How one column of one pushed row is damaged. */
type Change =
  | { op: 'set'; to: SqlValue }
  | { op: 'copy'; from: number }
  | { op: 'truncate'; at: number }
  | { op: 'field'; field: string; to: unknown }
  | { op: 'add'; delta: bigint }
type Damage = { row: number; column: (typeof COLUMNS)[number]; change: Change }

const change: fc.Arbitrary<Change> = fc.oneof(
  sqlValue.map((to) => ({ op: 'set' as const, to })),
  fc.nat(VALUES.length - 1).map((from) => ({ op: 'copy' as const, from })),
  fc.nat(80).map((at) => ({ op: 'truncate' as const, at })),
  fc
    .record({ field: fc.constantFrom(...REF_FIELDS), to: fc.oneof(fc.jsonValue(), fc.constant(undefined)) })
    .map(({ field, to }) => ({ op: 'field' as const, field, to })),
  fc.bigInt({ min: -3n, max: 3n }).map((delta) => ({ op: 'add' as const, delta })),
)
const damages = fc.array(
  fc.record({ row: fc.nat(VALUES.length - 1), column: fc.constantFrom(...COLUMNS), change }),
  { minLength: 1, maxLength: 8 },
)
const inserts = fc.array(fc.array(sqlValue, { minLength: COLUMNS.length, maxLength: COLUMNS.length }), {
  maxLength: 2,
})

/** Runs `call`; a failure must be an XComError with a code. */
/** Each row's content, byte for byte, by rowid: tells untouched rows from damaged ones. */
function fingerprints(db: DatabaseSync): Map<bigint, string> {
  const print = COLUMNS.map((column) => `typeof(${column}) || ':' || hex(${column})`).join(" || '|' || ")
  const statement = db.prepare(`SELECT rowid AS r, ${print} AS f FROM xcom_record`)
  statement.setReadBigInts(true)
  return new Map(statement.all().map((row) => [row.r as bigint, String(row.f)]))
}

function damage(db: DatabaseSync, rowids: bigint[], { row, column, change }: Damage): void {
  const read = db.prepare(`SELECT ${column} AS v FROM xcom_record WHERE rowid = ?`)
  read.setReadBigInts(true)
  const current = read.get(rowids[row] as bigint)?.v
  let to: SqlValue | undefined
  if (change.op === 'set') to = change.to
  else if (change.op === 'copy') to = bound(read.get(rowids[change.from] as bigint)?.v ?? null)
  else if (change.op === 'truncate' && (typeof current === 'string' || current instanceof Uint8Array))
    to = bound(current.slice(0, change.at))
  else if (change.op === 'add' && typeof current === 'bigint') to = bound(current + change.delta)
  else if (change.op === 'field' && typeof current === 'string') {
    try {
      const json = JSON.parse(current)
      if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
        json[change.field] = change.to
        to = bound(JSON.stringify(json))
      }
    } catch {}
  }
  if (!to) return
  // OR IGNORE: damage that breaks NOT NULL, the primary key or a unique id is skipped.
  db.prepare(`UPDATE OR IGNORE xcom_record SET ${column} = ${to.sql} WHERE rowid = ?`).run(
    ...(to.value === undefined ? [] : [to.value]),
    rowids[row] as bigint,
  )
}

describe('damaged rows through the XCom facade (fuzz)', () => {
  it('fails only with XComErrors, lists every row, pulls untouched ones exactly, clears and collects the rest', async () => {
    await fc.assert(
      fc.asyncProperty(damages, inserts, async (changes, added) => {
        const db = new DatabaseSync(':memory:')
        const store = new SqliteMetadataStore({ database: db })
        const backend = new ObjectStoreXComBackend({ store: new MemoryObjectStore(), threshold: 16 })
        const xcom = new XCom({ metadata: store, backend })
        try {
          const keys = VALUES.map((_, index) => ({ dagId: 'dag', runId: 'run', taskId: `t${index}` }))
          for (const [index, value] of VALUES.entries()) await xcom.push(keys[index] as XComKey, value)
          const rowids = [...fingerprints(db).keys()]
          const before = fingerprints(db)
          db.exec('PRAGMA ignore_check_constraints = ON')
          for (const one of changes) damage(db, rowids, one)
          for (const values of added) {
            db.prepare(
              `INSERT OR IGNORE INTO xcom_record (${COLUMNS.join(', ')}) VALUES (${values.map((v) => v.sql).join(', ')})`,
            ).run(...values.flatMap((v) => (v.value === undefined ? [] : [v.value])))
          }
          const after = fingerprints(db)
          const untouched = VALUES.flatMap((value, index) =>
            before.get(rowids[index] as bigint) === after.get(rowids[index] as bigint)
              ? [{ key: keys[index] as XComKey, value }]
              : [],
          )

          const rows = Number(db.prepare('SELECT count(*) AS n FROM xcom_record').get()?.n)
          const dagIds = await expectDamagedRowsHandled({ xcom, rows, keys, untouched })
          // What is left has a dagId no clear can name (not text, or not a valid identifier).
          const left = db.prepare(
            "SELECT count(*) AS n FROM xcom_record WHERE typeof(dag_id) = 'text' AND dag_id IN (SELECT value FROM json_each(?))",
          )
          expect(left.get(JSON.stringify(dagIds))?.n).toBe(0)
        } finally {
          await xcom.close()
          db.close()
        }
      }),
      { numRuns: 150 },
    )
  }, 120_000)
})
