import type { XComContext, XComIdentity, XComKey, XComRecord } from './contracts.ts'
import { XComError } from './errors.ts'

/** The key Airflow uses for a task's return value; the default key. */
export const XCOM_RETURN_KEY = 'return_value'

/** Maximum lengths of identity fields, in characters (Airflow's column sizes). */
export const IDENTITY_LIMITS = { dagId: 250, runId: 250, taskId: 250, key: 512 } as const

/** `dag/run/task[mapIndex]/key`, the form messages use to name an XCom. */
export function formatIdentity(id: XComIdentity): string {
  const mapIndex = id.mapIndex ?? -1
  const map = mapIndex === -1 ? '' : `[${mapIndex}]`
  return `${id.dagId}/${id.runId}/${id.taskId}${map}/${id.key ?? XCOM_RETURN_KEY}`
}

function describe(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
    : String(value)
}

/** Throws `E_INVALID_KEY` unless `value` is a valid identifier for `field`. */
export function validateIdentifier(field: keyof typeof IDENTITY_LIMITS, value: unknown): string {
  const limit = IDENTITY_LIMITS[field]
  const fail = (why: string): never => {
    throw new XComError('E_INVALID_KEY', `Invalid ${field} ${describe(value)}: ${why}.`)
  }
  if (typeof value !== 'string')
    return fail(`must be a string, got ${value === null ? 'null' : typeof value}`)
  if (value.length === 0) return fail('must not be empty')
  if (value.length > limit) return fail(`must be at most ${limit} characters, got ${value.length}`)
  // C0 and C1 control characters, DEL, and lone surrogates cannot be stored or printed faithfully.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return fail('must not contain control characters')
  if (!value.isWellFormed()) return fail('must not contain lone surrogate characters')
  return value
}

/** Throws `E_INVALID_KEY` unless `value` is an integer >= -1. */
export function validateMapIndex(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -1) {
    throw new XComError(
      'E_INVALID_KEY',
      `Invalid mapIndex ${describe(value)}: must be an integer >= -1 (-1 means not mapped).`,
    )
  }
  return value
}

/** Validates an identity before any I/O and fills the defaults. Throws `E_INVALID_KEY` naming the field. */
export function resolveIdentity(id: XComIdentity): XComKey {
  if (typeof id !== 'object' || id === null) {
    throw new XComError(
      'E_INVALID_KEY',
      'An XCom identity must be an object { dagId, runId, taskId, mapIndex?, key? }.',
    )
  }
  return {
    dagId: validateIdentifier('dagId', id.dagId),
    runId: validateIdentifier('runId', id.runId),
    taskId: validateIdentifier('taskId', id.taskId),
    mapIndex: validateMapIndex(id.mapIndex ?? -1),
    key: validateIdentifier('key', id.key ?? XCOM_RETURN_KEY),
  }
}

/** Orders keys the way every store returns them: dagId, runId, taskId, mapIndex, key. */
export function compareKeys(a: XComKey, b: XComKey): number {
  return (
    compareStrings(a.dagId, b.dagId) ||
    compareStrings(a.runId, b.runId) ||
    compareStrings(a.taskId, b.taskId) ||
    a.mapIndex - b.mapIndex ||
    compareStrings(a.key, b.key)
  )
}

/** Code-unit order, the order of `COLLATE "C"` / SQLite's BINARY on ASCII identifiers. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The context a backend's hooks get for a record: its identity and record id. */
export function contextOf(record: XComRecord): XComContext {
  return {
    dagId: record.dagId,
    runId: record.runId,
    taskId: record.taskId,
    mapIndex: record.mapIndex,
    key: record.key,
    recordId: record.id,
  }
}
