import { inspect } from 'node:util'
import { SerializerRegistry } from '@xcom/core'

/**
 * True when JSON.stringify gives the value back exactly: only null, booleans, finite numbers (not -0), strings,
 * arrays and plain objects. Anything else (Date, Map, bigint...) is shown with `util.inspect` so nothing is lost.
 */
export function isPlainJson(value: unknown, depth = 0): boolean {
  if (depth > 100) return false
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0)
  if (Array.isArray(value)) return value.every((item) => isPlainJson(item, depth + 1))
  if (typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  return Object.values(value).every((item) => isPlainJson(item, depth + 1))
}

/** A value for people: indented JSON when that is exact, else `util.inspect` (full depth, coloured on a terminal). */
export function prettyValue(value: unknown, colors: boolean): string {
  if (isPlainJson(value)) return JSON.stringify(value, null, 2)
  return inspect(value, {
    depth: null,
    colors,
    maxArrayLength: null,
    maxStringLength: null,
    breakLength: 110,
  })
}

/**
 * A value for programs: compact JSON in xcom's own serialized form, so Dates, Maps and bigints survive (as the
 * `{"__classname__"...}` envelopes Airflow also reads).
 */
export function rawValue(value: unknown): string {
  return new SerializerRegistry().serialize(value)
}
