import type { XComKey, XComQuery, XComRecord } from './contracts.ts'
import { XComError } from './errors.ts'
import { validateIdentifier, validateMapIndex } from './identity.ts'

/** Normalizes a query field to a list of accepted values (undefined: anything). */
export function queryValues<T>(field: T | readonly T[] | undefined): readonly T[] | undefined {
  return field === undefined ? undefined : Array.isArray(field) ? (field as readonly T[]) : [field as T]
}

/** True when `record` is selected by `query`; the reference semantics every store must match. */
export function matchesQuery(record: XComRecord, query: XComQuery): boolean {
  const has = <T>(field: T | readonly T[] | undefined, value: T) => {
    const values = queryValues(field)
    return values === undefined || values.includes(value)
  }
  return (
    (query.dagId === undefined || record.dagId === query.dagId) &&
    (query.runId === undefined || record.runId === query.runId) &&
    has(query.taskId, record.taskId) &&
    has(query.mapIndex, record.mapIndex) &&
    has(query.key, record.key) &&
    (query.expiredBefore === undefined ||
      (record.expiresAt !== undefined && record.expiresAt.getTime() < query.expiredBefore.getTime())) &&
    (query.createdBefore === undefined || record.createdAt.getTime() < query.createdBefore.getTime())
  )
}

const QUERY_FIELDS = new Set([
  'dagId',
  'runId',
  'taskId',
  'mapIndex',
  'key',
  'expiredBefore',
  'createdBefore',
])

/** Validates every identifier in a query before any I/O. @throws XComError `E_INVALID_KEY` naming the field. */
export function validateQuery(query: XComQuery): XComQuery {
  if (typeof query !== 'object' || query === null) {
    throw new XComError(
      'E_INVALID_KEY',
      'A query must be an object such as { dagId, runId?, taskId?, mapIndex?, key? }.',
    )
  }
  // A misspelt field (taskIds, map_index...) would silently select more than meant: refuse it instead.
  const unknown = Object.keys(query).find((field) => !QUERY_FIELDS.has(field))
  if (unknown !== undefined) {
    throw new XComError(
      'E_INVALID_KEY',
      `Unknown query field "${unknown}": a query has ${[...QUERY_FIELDS].join(', ')} (taskId, mapIndex and key take one value or a list).`,
    )
  }
  if (query.dagId !== undefined) validateIdentifier('dagId', query.dagId)
  if (query.runId !== undefined) validateIdentifier('runId', query.runId)
  for (const taskId of queryValues(query.taskId) ?? []) validateIdentifier('taskId', taskId)
  for (const key of queryValues(query.key) ?? []) validateIdentifier('key', key)
  for (const mapIndex of queryValues(query.mapIndex) ?? []) validateMapIndex(mapIndex)
  for (const field of ['expiredBefore', 'createdBefore'] as const) {
    const date = query[field]
    if (date !== undefined && !(date instanceof Date && Number.isFinite(date.getTime()))) {
      throw new XComError('E_INVALID_KEY', `Invalid ${field}: must be a valid Date.`)
    }
  }
  return query
}

/** An opaque pagination cursor naming the last key of a page. */
export function encodeCursor(key: XComKey): string {
  return Buffer.from(JSON.stringify([key.dagId, key.runId, key.taskId, key.mapIndex, key.key])).toString(
    'base64url',
  )
}

/** Reads a cursor made by {@link encodeCursor}. @throws XComError `E_INVALID_KEY` when it is not one. */
export function decodeCursor(cursor: string): XComKey {
  try {
    const [dagId, runId, taskId, mapIndex, key] = JSON.parse(
      Buffer.from(cursor, 'base64url').toString('utf8'),
    )
    if ([dagId, runId, taskId, key].every((part) => typeof part === 'string') && Number.isInteger(mapIndex)) {
      return { dagId, runId, taskId, mapIndex, key }
    }
  } catch {}
  throw new XComError(
    'E_INVALID_KEY',
    'Invalid page cursor: pass the `next` value of the previous page unchanged.',
  )
}

/** A page size of {@link MetadataStore.list}. @throws XComError `E_INVALID_KEY` unless it is a positive integer. */
export function pageLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new XComError('E_INVALID_KEY', `Invalid page limit ${String(limit)}: must be a positive integer.`)
  }
  return limit
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
