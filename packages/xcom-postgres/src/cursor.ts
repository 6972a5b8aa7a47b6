/*
 * List cursors. A page ends on a row's key; the next page starts after that key. Core's cursor carries a map index
 * as a JavaScript number, so a damaged row whose bigint map index is beyond 2^53 travels in a cursor of its own that
 * keeps the map index as decimal text: paging over it neither repeats nor skips rows.
 */
import { decodeCursor, encodeCursor } from '@xcom/core/adapter'

/** A row's key columns as pg returns them (bigint as text). */
export interface KeyRow {
  dag_id: unknown
  run_id: unknown
  task_id: unknown
  map_index: unknown
  key: unknown
}

/** The key a cursor names, as statement parameters in key order (the map index as decimal text). */
export type CursorKey = [string, string, string, string, string]

const BIGINT = /^-?\d{1,19}$/

/** The cursor naming a row's key exactly. */
export function cursorOf(row: KeyRow): string {
  const [dagId, runId, taskId, key] = [row.dag_id, row.run_id, row.task_id, row.key].map(String) as string[]
  const mapIndex = String(row.map_index)
  if (Number.isSafeInteger(Number(mapIndex)))
    return encodeCursor({
      dagId: dagId as string,
      runId: runId as string,
      taskId: taskId as string,
      mapIndex: Number(mapIndex),
      key: key as string,
    })
  return Buffer.from(JSON.stringify({ k: [dagId, runId, taskId, mapIndex, key] })).toString('base64url')
}

/** The key a cursor names. @throws XComError `E_INVALID_KEY` for a cursor not made by {@link cursorOf}. */
export function readCursor(cursor: string): CursorKey {
  try {
    const { k } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown }
    if (
      Array.isArray(k) &&
      k.length === 5 &&
      k.every((part) => typeof part === 'string') &&
      BIGINT.test(k[3] as string)
    )
      return k as CursorKey
  } catch {}
  const { dagId, runId, taskId, mapIndex, key } = decodeCursor(cursor)
  return [dagId, runId, taskId, String(mapIndex), key]
}
