import type { SQLInputValue } from 'node:sqlite'
import { XComError, type XComKey, type XComQuery, type XComRecord } from '@xcom/core'
import { queryValues } from '@xcom/core/adapter'
import { compareToText, type KeyPart } from './cursor.ts'
import { KEY_COLUMNS } from './schema.ts'

/** The identity of a key as statement parameters, in key order. */
export function keyParams(key: XComKey): SQLInputValue[] {
  return [key.dagId, key.runId, key.taskId, key.mapIndex, key.key]
}

/** A record as the parameters of the upsert, in `RECORD_COLUMNS` order. */
export function recordParams(record: XComRecord): SQLInputValue[] {
  const { value } = record
  return [
    ...keyParams(record),
    record.id,
    value.kind,
    value.kind === 'inline' ? value.data : null,
    value.kind === 'reference' ? JSON.stringify(value.ref) : null,
    value.size,
    record.createdAt.getTime(),
    record.expiresAt === undefined ? null : record.expiresAt.getTime(),
  ]
}

/**
 * The WHERE clause of a query, its values as parameters (never in the SQL text). A list becomes one parameter, a
 * JSON array read with json_each, so 10,000 map indexes are still one statement with one placeholder.
 */
export function whereOf(query: XComQuery): { where: string; params: SQLInputValue[] } {
  const clauses: string[] = []
  const params: SQLInputValue[] = []
  const scalar = (column: string, value: string | undefined) => {
    if (value === undefined) return
    clauses.push(`${column} = ?`)
    params.push(value)
  }
  const list = (column: string, field: string | number | readonly (string | number)[] | undefined) => {
    const values = queryValues(field)
    if (values === undefined) return
    if (values.length === 1) {
      clauses.push(`${column} = ?`)
      params.push(values[0] as string | number)
    } else {
      clauses.push(`${column} IN (SELECT value FROM json_each(?))`)
      params.push(JSON.stringify(values))
    }
  }
  scalar('dag_id', query.dagId)
  scalar('run_id', query.runId)
  list('task_id', query.taskId)
  list('map_index', query.mapIndex)
  list('key', query.key)
  if (query.expiredBefore !== undefined) {
    clauses.push('expires_at < ?')
    params.push(query.expiredBefore.getTime())
  }
  if (query.createdBefore !== undefined) {
    clauses.push('created_at < ?')
    params.push(query.createdBefore.getTime())
  }
  return { where: clauses.length > 0 ? clauses.join(' AND ') : 'TRUE', params }
}

/**
 * The keyset condition selecting the rows after the cursor's key. The query's own dagId (and runId) fix the leading
 * key columns, so the cursor is compared on them here and the row value covers only the rest: the index then seeks
 * straight to the cursor instead of reading the run from its start. `all`: every selected row follows the cursor;
 * `none`: none does.
 */
export function keysetAfter(
  query: XComQuery,
  after: KeyPart[],
): { condition: string; params: SQLInputValue[] } | 'all' | 'none' {
  const fixed =
    query.dagId === undefined ? [] : query.runId === undefined ? [query.dagId] : [query.dagId, query.runId]
  for (const [index, value] of fixed.entries()) {
    // UTF-8 byte order is SQLite's BINARY collation.
    const order = compareToText(after[index] as KeyPart, value)
    if (order < 0) return 'all'
    if (order > 0) return 'none'
  }
  const rest = after.slice(fixed.length)
  const columns = KEY_COLUMNS.split(', ').slice(fixed.length)
  return {
    condition: `(${columns.join(', ')}) > (${rest.map((part) => part.placeholder).join(', ')})`,
    params: rest.map((part) => part.value),
  }
}

/** @throws XComError `E_INVALID_KEY` unless `limit` is a positive integer. */
export function pageLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new XComError('E_INVALID_KEY', `Invalid page limit ${String(limit)}: must be a positive integer.`)
  }
  return limit
}
