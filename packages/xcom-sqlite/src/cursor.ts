/*
 * List cursors. A page ends on a row's key; the next page starts after that key exactly as SQLite holds it. A
 * well-formed key travels as core's cursor. A damaged one (a blob, text that is not valid UTF-8, a non-integer map
 * index) travels typed, byte for byte, so paging over it neither repeats nor skips rows.
 */
import type { SQLInputValue } from 'node:sqlite'
import { XComError } from '@xcom/core'
import { decodeCursor, encodeCursor } from '@xcom/core/adapter'
import type { Row } from './rows.ts'
import { KEY_COLUMNS } from './schema.ts'

/** SQLite storage classes. */
type StorageClass = 'null' | 'integer' | 'real' | 'text' | 'blob'

/** One key column's value as stored, and how to bind it back unchanged. */
export interface KeyPart {
  type: StorageClass
  value: SQLInputValue
  /** `?`, or `CAST(? AS TEXT)` for text given as bytes (not valid UTF-8). */
  placeholder: string
  /** The UTF-8 bytes of a text value, for comparisons in code. */
  bytes?: Buffer
}

const COLUMNS = KEY_COLUMNS.split(', ')
const STORAGE_CLASSES = new Set<string>(['null', 'integer', 'real', 'text', 'blob'])
const HEX = /^(?:[0-9A-Fa-f]{2})*$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Selects the typed key of the row with rowid `?`: per column its storage class, hex bytes and value. */
export const TYPED_KEY = `SELECT ${COLUMNS.map(
  (column, index) => `typeof(${column}) AS t${index}, hex(${column}) AS h${index}, ${column} AS v${index}`,
).join(', ')} FROM xcom_record WHERE rowid = ?`

/** True when the row's key reads back unchanged, so core's cursor can carry it. */
export function isPlainKey(row: Row): boolean {
  const text = (value: unknown) => typeof value === 'string' && !value.includes('\uFFFD')
  return (
    text(row.dag_id) &&
    text(row.run_id) &&
    text(row.task_id) &&
    text(row.key) &&
    typeof row.map_index === 'bigint' &&
    Number.isSafeInteger(Number(row.map_index))
  )
}

/** The cursor of a row whose key {@link isPlainKey}. */
export function plainCursor(row: Row): string {
  const [dagId, runId, taskId, key] = [row.dag_id, row.run_id, row.task_id, row.key].map(String)
  return encodeCursor({
    dagId: dagId as string,
    runId: runId as string,
    taskId: taskId as string,
    mapIndex: Number(row.map_index),
    key: key as string,
  })
}

/** The cursor of a key read with {@link TYPED_KEY}. */
export function typedCursor(typed: Row): string {
  const parts = COLUMNS.map((_, index) => {
    const type = String(typed[`t${index}`])
    const value = typed[`v${index}`]
    if (type === 'integer') return [type, String(value)]
    if (type === 'real') {
      const bytes = Buffer.alloc(8)
      bytes.writeDoubleBE(Number(value))
      return [type, bytes.toString('hex')]
    }
    return [type, String(typed[`h${index}`])]
  })
  return Buffer.from(JSON.stringify({ k: parts })).toString('base64url')
}

/** The key a cursor names, column by column. @throws XComError `E_INVALID_KEY` for a cursor not made here. */
export function readCursor(cursor: string): KeyPart[] {
  const typed = typedParts(cursor)
  if (typed) return typed
  const { dagId, runId, taskId, mapIndex, key } = decodeCursor(cursor)
  return [
    text(dagId),
    text(runId),
    text(taskId),
    { type: 'integer', value: mapIndex, placeholder: '?' },
    text(key),
  ]
}

/**
 * Orders a key part against text the way SQLite does (numbers < text < blobs; text by its bytes): the keyset
 * compares a query's fixed dagId and runId in code.
 */
export function compareToText(part: KeyPart, value: string): number {
  if (part.type === 'blob') return 1
  if (part.type !== 'text' || !part.bytes) return -1
  return Buffer.compare(part.bytes, Buffer.from(value, 'utf8'))
}

function typedParts(cursor: string): KeyPart[] | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  const pairs = (parsed as { k?: unknown } | null)?.k
  if (!Array.isArray(pairs)) return undefined
  const parts = pairs.map((pair) => (Array.isArray(pair) ? partOf(pair[0], pair[1]) : undefined))
  if (parts.length !== COLUMNS.length || parts.some((part) => part === undefined)) throw invalidCursor()
  return parts as KeyPart[]
}

function partOf(type: unknown, payload: unknown): KeyPart | undefined {
  if (typeof type !== 'string' || !STORAGE_CLASSES.has(type) || typeof payload !== 'string') return undefined
  if (type === 'null') return { type, value: null, placeholder: '?' }
  if (type === 'integer')
    return /^-?\d{1,19}$/.test(payload) ? { type, value: BigInt(payload), placeholder: '?' } : undefined
  if (!HEX.test(payload)) return undefined
  const bytes = Buffer.from(payload, 'hex')
  if (type === 'real')
    return bytes.length === 8 ? { type, value: bytes.readDoubleBE(0), placeholder: '?' } : undefined
  if (type === 'blob') return { type, value: new Uint8Array(bytes), placeholder: '?' }
  try {
    return { ...text(utf8.decode(bytes)), bytes }
  } catch {
    return { type: 'text', value: new Uint8Array(bytes), placeholder: 'CAST(? AS TEXT)', bytes }
  }
}

function text(value: string): KeyPart {
  return { type: 'text', value, placeholder: '?', bytes: Buffer.from(value, 'utf8') }
}

function invalidCursor(): XComError {
  return new XComError(
    'E_INVALID_KEY',
    'Invalid page cursor: pass the `next` value of the previous page unchanged.',
  )
}
