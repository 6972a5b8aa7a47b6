import { XComError, type XComKey, type XComQuery } from '@xcom/core'
import { queryValues } from '@xcom/core/adapter'
import type { CursorKey } from './cursor.ts'
import { KEY_COLUMNS } from './schema.ts'

/** The identity of a key as statement parameters, in key order. */
export function keyParams(key: XComKey): unknown[] {
  return [key.dagId, key.runId, key.taskId, key.mapIndex, key.key]
}

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
 * The keyset condition selecting the rows after the cursor's key. The query's own dagId (and runId) fix the leading
 * key columns, so the cursor is compared on them here and the row value covers only the rest: the index then seeks
 * straight to the cursor instead of reading the run from its start. `all`: every selected row follows the cursor;
 * `none`: none does.
 */
export function keysetAfter(
  query: XComQuery,
  after: CursorKey,
): { columns: string[]; values: unknown[] } | 'all' | 'none' {
  const fixed =
    query.dagId === undefined ? [] : query.runId === undefined ? [query.dagId] : [query.dagId, query.runId]
  for (const [index, value] of fixed.entries()) {
    // UTF-8 byte order is the order of COLLATE "C" in a UTF-8 database.
    const order = Buffer.compare(Buffer.from(after[index] as string), Buffer.from(value))
    if (order < 0) return 'all'
    if (order > 0) return 'none'
  }
  return { columns: KEY_COLUMNS.split(', ').slice(fixed.length), values: after.slice(fixed.length) }
}

/** `value` when it is a whole number >= `min`. @throws XComError `E_CONFIG` naming the option. */
export function wholeNumber(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new XComError('E_CONFIG', `Invalid ${option} ${String(value)}: use a whole number >= ${min}.`)
  }
  return value
}

/** @throws XComError `E_INVALID_KEY` unless `limit` is a positive integer. */
export function pageLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new XComError('E_INVALID_KEY', `Invalid page limit ${String(limit)}: must be a positive integer.`)
  }
  return limit
}
