import type { StoredValue, XComKey, XComRecord } from './contracts.ts'

/**
 * One row as SQL metadata stores keep it (`xcom_record`, `xcom_pending_purge`), with whatever types the driver
 * returns: text or numbers for counts, text, JSON text or parsed JSON for `ref`, text, numbers or Dates for times.
 */
export interface RecordRow {
  dag_id: unknown
  run_id: unknown
  task_id: unknown
  map_index: unknown
  key: unknown
  id: unknown
  kind: unknown
  data: unknown
  ref: unknown
  size: unknown
  created_at: unknown
  expires_at: unknown
}

/**
 * The record a row holds. Never throws: a row xcom did not write, or one damaged since, becomes a record whose value
 * is `{ kind: 'malformed', reason }`, so listing, clearing and gc go on and only pulling it fails (`E_CORRUPT`).
 */
export function recordFromRow(row: RecordRow): XComRecord {
  const mapIndex = Number(row.map_index)
  const createdAt = dateOf(row.created_at) ?? new Date(0)
  const expiresAt =
    row.expires_at === null || row.expires_at === undefined ? undefined : dateOf(row.expires_at)
  const identityProblem =
    [row.dag_id, row.run_id, row.task_id, row.key, row.id].some((field) => typeof field !== 'string') ||
    !Number.isSafeInteger(mapIndex)
      ? 'its identity columns are not text and an integer map index'
      : undefined
  return {
    dagId: String(row.dag_id),
    runId: String(row.run_id),
    taskId: String(row.task_id),
    mapIndex: Number.isSafeInteger(mapIndex) ? mapIndex : -1,
    key: String(row.key),
    id: String(row.id),
    value: identityProblem ? malformed(identityProblem, row.size) : storedValueOf(row),
    createdAt,
    expiresAt,
  }
}

/** The value columns as a {@link StoredValue}, or a malformed one saying what is wrong. */
function storedValueOf(row: RecordRow): StoredValue {
  const size = Number(row.size)
  if (!Number.isSafeInteger(size) || size < 0) return malformed('its size is not a byte count', row.size)
  if (row.kind === 'inline') {
    return typeof row.data === 'string'
      ? { kind: 'inline', data: row.data, size }
      : malformed('it is inline but holds no text', size)
  }
  if (row.kind !== 'reference')
    return malformed(`its kind ${JSON.stringify(String(row.kind).slice(0, 40))} is unknown`, size)
  let ref = row.ref
  if (typeof ref === 'string') {
    try {
      ref = JSON.parse(ref)
    } catch {
      return malformed('its reference is not valid JSON', size)
    }
  }
  if (
    typeof ref !== 'object' ||
    ref === null ||
    Array.isArray(ref) ||
    typeof (ref as { uri?: unknown }).uri !== 'string'
  )
    return malformed('its reference is not an object with a uri', size)
  return { kind: 'reference', ref: ref as { uri: string }, size }
}

function malformed(reason: string, size: unknown): StoredValue {
  const bytes = Number(size)
  return { kind: 'malformed', reason, size: Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : 0 }
}

function dateOf(value: unknown): Date | undefined {
  const date =
    value instanceof Date
      ? value
      : new Date(typeof value === 'string' || typeof value === 'number' ? value : Number.NaN)
  return Number.isFinite(date.getTime()) ? date : undefined
}

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
