import type { SQLOutputValue } from 'node:sqlite'
import type { PendingPurge, XComRecord } from '@xcom/core'
import { recordFromRow } from '@xcom/core/adapter'

/** A row as node:sqlite returns it (statements read integers as bigints, so none is too large to read). */
export type Row = Record<string, SQLOutputValue>

/**
 * Extra columns `pendingPurges` selects so that an id which does not read back unchanged (a blob, NULL, text that is
 * not valid UTF-8) can still be resolved: the row's rowid and the id's storage class and bytes.
 */
export const PURGE_ID_COLUMNS = 'rowid AS xcom_rowid, typeof(id) AS xcom_id_type, hex(id) AS xcom_id_hex'

/** The id `pendingPurges` gives a queued row whose own id cannot be read back: it names the row and its id's bytes. */
const UNREADABLE_ID = /^xcom-unreadable-id:(\d{1,19}):(null|integer|real|text|blob):((?:[0-9A-F]{2})*)$/

/**
 * The record a row of `xcom_record` or `xcom_pending_purge` holds. Never throws: SQLite stores anything in any
 * column, and what xcom did not write becomes a `malformed` value (see core's `recordFromRow`).
 */
export function recordOf(row: Row): XComRecord {
  return recordFromRow({
    dag_id: row.dag_id,
    run_id: row.run_id,
    task_id: row.task_id,
    map_index: integerOf(row.map_index),
    key: row.key,
    id: row.id,
    kind: row.kind,
    data: row.data,
    ref: row.ref,
    size: integerOf(row.size),
    created_at: timeOf(row.created_at),
    expires_at: row.expires_at === null ? null : timeOf(row.expires_at),
  })
}

/**
 * A row of `xcom_pending_purge` (selected with {@link PURGE_ID_COLUMNS}). A row whose id does not read back gets an
 * id naming its rowid and bytes instead, and a malformed value: `resolvePurges` removes it by that id, so no row can
 * stay stuck in the queue.
 */
export function pendingPurgeOf(row: Row): PendingPurge {
  let record = recordOf(row)
  const hex = String(row.xcom_id_hex)
  if (typeof row.id !== 'string' || Buffer.from(row.id, 'utf8').toString('hex').toUpperCase() !== hex) {
    const id = `xcom-unreadable-id:${String(row.xcom_rowid)}:${String(row.xcom_id_type)}:${hex}`
    const reason = 'its id is not text that reads back unchanged'
    record = { ...record, id, value: { kind: 'malformed', reason, size: record.value.size } }
  }
  const queuedAt = new Date(Number(timeOf(row.queued_at)))
  return { id: record.id, record, queuedAt: Number.isFinite(queuedAt.getTime()) ? queuedAt : new Date(0) }
}

/** The rowid, storage class and hex bytes an id made by {@link pendingPurgeOf} names, or undefined for a plain id. */
export function unreadableId(id: string): { rowid: bigint; type: string; hex: string } | undefined {
  const match = UNREADABLE_ID.exec(id)
  return match
    ? { rowid: BigInt(match[1] as string), type: match[2] as string, hex: match[3] as string }
    : undefined
}

/** An integer column: numbers as they are, anything else (text, blobs) NaN, so Number() never reads `'0x10'` as 16. */
function integerOf(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : Number.NaN
}

/** A time column: milliseconds, or text for the caller to parse; blobs are no time. */
function timeOf(value: unknown): number | string {
  return typeof value === 'bigint'
    ? Number(value)
    : typeof value === 'number' || typeof value === 'string'
      ? value
      : Number.NaN
}
