import { XComError, type XComQuery } from '@xcom/core'
import { fixedKeyColumns, queryValues } from '@xcom/core/adapter'
import type { CursorKey } from './cursor.ts'
import { KEY_COLUMNS } from './schema.ts'

/**
 * The WHERE clause of a query; its values are appended to `params` and referenced as `$n`, never put in the SQL text.
 * A list is one array parameter (`= ANY($n::text[])`), so 10,000 map indexes are still one statement with one
 * placeholder.
 */
export function whereOf(query: XComQuery, params: unknown[]): string {
  const clauses: string[] = []
  const add = (clause: (n: string) => string, value: unknown) => {
    params.push(value)
    clauses.push(clause(`$${params.length}`))
  }
  const list = (
    column: string,
    type: string,
    field: string | number | readonly (string | number)[] | undefined,
  ) => {
    const values = queryValues(field)
    if (values === undefined) return
    if (values.length === 1) add((n) => `${column} = ${n}`, values[0])
    else add((n) => `${column} = ANY(${n}::${type}[])`, values)
  }
  if (query.dagId !== undefined) add((n) => `dag_id = ${n}`, query.dagId)
  if (query.runId !== undefined) add((n) => `run_id = ${n}`, query.runId)
  list('task_id', 'text', query.taskId)
  list('map_index', 'bigint', query.mapIndex)
  list('key', 'text', query.key)
  if (query.expiredBefore !== undefined)
    add((n) => `expires_at < ${n}::timestamptz`, query.expiredBefore.toISOString())
  if (query.createdBefore !== undefined)
    add((n) => `created_at < ${n}::timestamptz`, query.createdBefore.toISOString())
  return clauses.length > 0 ? clauses.join(' AND ') : 'TRUE'
}

/**
 * The keyset condition selecting the rows after the cursor's key (see {@link fixedKeyColumns}): the columns and values
 * of the row value that follows the fixed ones. Text compares by its UTF-8 bytes, the order of COLLATE "C" in a UTF-8
 * database.
 */
export function keysetAfter(
  query: XComQuery,
  after: CursorKey,
): { columns: string[]; values: unknown[] } | 'all' | 'none' {
  const fixed = fixedKeyColumns(query, after, (part, value) =>
    Buffer.compare(Buffer.from(part), Buffer.from(value)),
  )
  if (typeof fixed !== 'number') return fixed
  return { columns: KEY_COLUMNS.split(', ').slice(fixed), values: after.slice(fixed) }
}

/** `value` when it is a whole number >= `min`. @throws XComError `E_CONFIG` naming the option. */
export function wholeNumber(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new XComError('E_CONFIG', `Invalid ${option} ${String(value)}: use a whole number >= ${min}.`)
  }
  return value
}
