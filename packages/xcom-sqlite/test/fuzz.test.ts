import type { DatabaseSync, SQLInputValue } from 'node:sqlite'
import { MemoryObjectStore, ObjectStoreXComBackend } from '@xcom/objectstore'
import { type ColumnChange, describeDamagedRowsFuzz } from '@xcom/testing'
import fc from 'fast-check'
import { RECORD_COLUMNS } from '../src/schema.ts'
import { databaseOf, sqliteHarness } from './support.ts'

const COLUMNS = RECORD_COLUMNS.split(', ')

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

/** Each row's content, byte for byte, by rowid: tells untouched rows from damaged ones. */
function fingerprints(db: DatabaseSync): Map<bigint, string> {
  const print = COLUMNS.map((column) => `typeof(${column}) || ':' || hex(${column})`).join(" || '|' || ")
  const statement = db.prepare(`SELECT rowid AS r, ${print} AS f FROM xcom_record`)
  statement.setReadBigInts(true)
  return new Map(statement.all().map((row) => [row.r as bigint, String(row.f)]))
}

/** The value `change` gives the column of the row `rowid`, or undefined when it does not apply. */
function changed(
  db: DatabaseSync,
  rowids: bigint[],
  rowid: bigint,
  column: string,
  change: ColumnChange<SqlValue, bigint>,
): SqlValue | undefined {
  const read = db.prepare(`SELECT ${column} AS v FROM xcom_record WHERE rowid = ?`)
  read.setReadBigInts(true)
  const current = read.get(rowid)?.v
  if (change.op === 'set') return change.to
  if (change.op === 'copy') return bound(read.get(rowids[change.from] as bigint)?.v ?? null)
  if (change.op === 'truncate' && (typeof current === 'string' || current instanceof Uint8Array))
    return bound(current.slice(0, change.at))
  if (change.op === 'add' && typeof current === 'bigint') return bound(current + change.delta)
  if (change.op === 'field' && typeof current === 'string') {
    try {
      const json = JSON.parse(current)
      if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
        json[change.field] = change.to
        return bound(JSON.stringify(json))
      }
    } catch {}
  }
  return undefined
}

describeDamagedRowsFuzz('SqliteMetadataStore', sqliteHarness, {
  fc,
  value: sqlValue,
  delta: fc.bigInt({ min: -3n, max: 3n }),
  columns: COLUMNS,
  backend: () => new ObjectStoreXComBackend({ store: new MemoryObjectStore(), threshold: 16 }),
  async damage(store, { taskIds, changes, rows }) {
    const db = databaseOf(store)
    const locate = db.prepare('SELECT rowid AS r FROM xcom_record WHERE task_id = ?')
    locate.setReadBigInts(true)
    const rowids = taskIds.map((taskId) => locate.get(taskId)?.r as bigint)
    const before = fingerprints(db)
    for (const { row, column, change } of changes) {
      const to = changed(db, rowids, rowids[row] as bigint, column, change)
      // OR IGNORE: damage that breaks NOT NULL, the primary key or a unique id is skipped.
      if (to)
        db.prepare(`UPDATE OR IGNORE xcom_record SET ${column} = ${to.sql} WHERE rowid = ?`).run(
          ...(to.value === undefined ? [] : [to.value]),
          rowids[row] as bigint,
        )
    }
    for (const values of rows) {
      db.prepare(
        `INSERT OR IGNORE INTO xcom_record (${COLUMNS.join(', ')}) VALUES (${values.map((v) => v.sql).join(', ')})`,
      ).run(...values.flatMap((v) => (v.value === undefined ? [] : [v.value])))
    }
    const after = fingerprints(db)
    return rowids.map((rowid) => before.get(rowid) === after.get(rowid))
  },
  async remaining(store, dagIds) {
    const left = databaseOf(store).prepare(
      "SELECT count(*) AS n FROM xcom_record WHERE typeof(dag_id) = 'text' AND dag_id IN (SELECT value FROM json_each(?))",
    )
    return Number(left.get(JSON.stringify(dagIds))?.n)
  },
  runs: 150,
  timeoutMs: 120_000,
})
