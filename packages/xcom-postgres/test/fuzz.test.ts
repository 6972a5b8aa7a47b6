import { MemoryObjectStore, ObjectStoreXComBackend } from '@xcom/objectstore'
import { type ColumnChange, describeDamagedRowsFuzz } from '@xcom/testing'
import fc from 'fast-check'
import { admin, connect, describePostgres, postgresHarness, withoutChecks } from './support/postgres.ts'

/** Each column and its type, for casts. */
const COLUMNS = {
  dag_id: 'text',
  run_id: 'text',
  task_id: 'text',
  map_index: 'bigint',
  key: 'text',
  id: 'text',
  kind: 'text',
  data: 'text',
  ref: 'jsonb',
  size: 'bigint',
  created_at: 'timestamptz',
  expires_at: 'timestamptz',
} as const
type Column = keyof typeof COLUMNS
const NAMES = Object.keys(COLUMNS) as Column[]

/** Text for any column, cast to its type by the server (a value that does not cast is skipped). */
const text: fc.Arbitrary<string | null> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.integer({ min: -3, max: 3 }).map(String),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.date().map((date) => (Number.isFinite(date.getTime()) ? date.toISOString() : 'infinity')),
  fc.constantFrom('infinity', '-infinity', '294276-12-31', '4713-01-01 BC', 'inline', 'reference', ''),
  fc.constant(null),
)

/** The SQL expression (over row `$1`'s ctid) and parameters that apply a change, or undefined when it does not apply. */
function expression(
  column: Column,
  change: ColumnChange<string | null, number>,
  from: string,
): [string, unknown[]] | undefined {
  const type = COLUMNS[column]
  if (change.op === 'set') return change.to === null ? ['NULL', []] : [`$2::${type}`, [change.to]]
  if (change.op === 'copy') return [`(SELECT ${column} FROM xcom_record WHERE ctid = $2::tid)`, [from]]
  if (change.op === 'truncate') return [`left(${column}::text, $2)::${type}`, [change.at]]
  if (change.op === 'add' && type === 'bigint') return [`${column} + $2`, [change.delta]]
  if (change.op === 'add' && type === 'timestamptz')
    return [`${column} + make_interval(days => $2)`, [change.delta]]
  if (change.op === 'field' && type === 'jsonb') {
    if (change.to === undefined) return [`${column} - $2::text`, [change.field]]
    return [`jsonb_set(${column}, ARRAY[$2::text], $3::jsonb)`, [change.field, JSON.stringify(change.to)]]
  }
  return undefined
}

describePostgres('damaged rows (fuzz)', () => {
  describeDamagedRowsFuzz('PostgresMetadataStore', postgresHarness, {
    fc,
    value: text,
    delta: fc.integer({ min: -3, max: 3 }),
    columns: NAMES,
    backend: () => new ObjectStoreXComBackend({ store: new MemoryObjectStore(), threshold: 16 }),
    async damage(store, { taskIds, changes, rows }) {
      await withoutChecks(store)
      const client = await connect(store.schema)
      /** Runs a damaging statement; one the server refuses (a cast, NOT NULL, a unique key) changes nothing. */
      const attempt = (sql: string, values: unknown[]) =>
        client.query<{ ctid: string }>(sql, values).then(
          (result) => result.rows[0]?.ctid,
          () => undefined,
        )
      try {
        const located = await client.query<{ ctid: string; task_id: string }>(
          'SELECT ctid::text, task_id FROM xcom_record',
        )
        // Rows are followed by ctid, which every successful UPDATE changes: an unchanged ctid is an untouched row.
        const ctids = taskIds.map(
          (taskId) => located.rows.find((row) => row.task_id === taskId)?.ctid as string,
        )
        const original = [...ctids]
        for (const { row, column, change } of changes) {
          const from = ctids[change.op === 'copy' ? change.from : 0] as string
          const applied = expression(column as Column, change, from)
          if (!applied) continue
          const [set, params] = applied
          const ctid = await attempt(
            `UPDATE xcom_record SET ${column} = ${set} WHERE ctid = $1::tid RETURNING ctid::text`,
            [ctids[row], ...params],
          )
          if (ctid) ctids[row] = ctid
        }
        for (const values of rows) {
          const placeholders = NAMES.map((column, index) => `$${index + 1}::${COLUMNS[column]}`)
          await attempt(`INSERT INTO xcom_record (${NAMES.join(', ')}) VALUES (${placeholders.join(', ')})`, [
            ...values,
          ])
        }
        return ctids.map((ctid, index) => ctid === original[index])
      } finally {
        await client.end()
      }
    },
    async remaining(store, dagIds) {
      const sql = 'SELECT count(*)::int AS n FROM xcom_record WHERE dag_id = ANY($1)'
      return Number((await admin(sql, [dagIds], store.schema))[0]?.n)
    },
    runs: 60,
    timeoutMs: 300_000,
  })
})
