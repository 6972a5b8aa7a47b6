/*
 * Database-neutral helpers of the SQL metadata stores, the same in @xcom/sqlite and @xcom/postgres: they are to move
 * to `@xcom/core/adapter` (beside `recordFromRow` and `decodeCursor`), and this file then goes.
 */
import type { XComKey, XComQuery, XComRecord } from '@xcom/core'

/** The identity of a key as statement parameters, in key order (dag_id, run_id, task_id, map_index, key). */
export function keyValues(key: XComKey): [string, string, string, number, string] {
  return [key.dagId, key.runId, key.taskId, key.mapIndex, key.key]
}

/**
 * A record as statement parameters, in the column order of core's `RecordRow` (dag_id, run_id, task_id, map_index,
 * key, id, kind, data, ref, size, created_at, expires_at): what `recordFromRow` reads back. `data` is set for inline
 * values only, `ref` (JSON text) for references only; `time` converts the dates to the database's form.
 */
export function recordValues<T>(record: XComRecord, time: (date: Date) => T): (string | number | T | null)[] {
  const { value } = record
  return [
    ...keyValues(record),
    record.id,
    value.kind,
    value.kind === 'inline' ? value.data : null,
    value.kind === 'reference' ? JSON.stringify(value.ref) : null,
    value.size,
    time(record.createdAt),
    record.expiresAt === undefined ? null : time(record.expiresAt),
  ]
}

/**
 * Where a keyset page starts, given the key columns of its cursor (`after`, in key order): a query's own dagId (and
 * runId) fix the leading key columns, so the cursor is compared on them here and the row value compares only the
 * rest (the index then seeks straight to the cursor instead of reading the run from its start).
 * @param compare orders a cursor column against the query's text the way the database orders the key.
 * @returns `all` when every selected row follows the cursor, `none` when none does, else how many leading columns
 *   the query fixes (and the cursor matches).
 */
export function fixedKeyColumns<P>(
  query: XComQuery,
  after: readonly P[],
  compare: (part: P, value: string) => number,
): number | 'all' | 'none' {
  const fixed =
    query.dagId === undefined ? [] : query.runId === undefined ? [query.dagId] : [query.dagId, query.runId]
  for (const [index, value] of fixed.entries()) {
    const order = compare(after[index] as P, value)
    if (order < 0) return 'all'
    if (order > 0) return 'none'
  }
  return fixed.length
}
