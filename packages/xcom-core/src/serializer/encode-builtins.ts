import { Buffer } from 'node:buffer'
import { type EncodeWalk, envelope, envelopeBytes, secondsToMillis } from './envelope.ts'
import { atSegment } from './failure.ts'
import { TYPED_ARRAYS } from './js-types.ts'
import { leafBytes } from './size.ts'

const UNDEFINED = Object.freeze(envelope('js.undefined', 1, null))
const UNDEFINED_BYTES = envelopeBytes('js.undefined', 1) + 4
const REGEXP_DATA_BYTES = JSON.stringify({ source: '', flags: '' }).length

/** The envelope of `undefined`: one frozen object, so a huge sparse array costs no memory per hole. */
export function encodeUndefined(walk: EncodeWalk): Record<string, unknown> {
  walk.size(UNDEFINED_BYTES)
  return UNDEFINED
}

/** The envelope of a number JSON cannot hold (NaN, ±Infinity, -0). */
export function encodeNumber(value: number, walk: EncodeWalk): Record<string, unknown> {
  const data = Object.is(value, -0) ? '-0' : String(value)
  walk.size(envelopeBytes('js.Number', 1) + data.length + 2)
  return envelope('js.Number', 1, data)
}

/** The envelope of a bigint. */
export function encodeBigInt(value: bigint, walk: EncodeWalk): Record<string, unknown> {
  const data = value.toString()
  walk.size(envelopeBytes('js.BigInt', 1) + data.length + 2)
  return envelope('js.BigInt', 1, data)
}

/**
 * Encodes a built-in object type, or returns `undefined` when `value` is none of them. `level` is the container
 * level of `value` itself. Sizes are counted before the data is built, so an oversized value fails before it costs
 * memory.
 */
export function encodeBuiltin(value: object, level: number, walk: EncodeWalk): unknown {
  if (value instanceof Date) return encodeDate(value, walk)
  if (value instanceof Map) return encodeMap(value, level, walk)
  if (value instanceof Set) return encodeSet(value, level, walk)
  if (Buffer.isBuffer(value)) return bytes('js.Buffer', value, walk)
  if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView) return bytes('js.DataView', value, walk)
    const name = (value as unknown as Record<symbol, unknown>)[Symbol.toStringTag]
    if (typeof name === 'string' && TYPED_ARRAYS.has(name)) return bytes(`js.${name}`, value, walk)
    return undefined
  }
  if (value instanceof ArrayBuffer) return bytes('js.ArrayBuffer', value, walk)
  if (value instanceof RegExp) {
    const { source, flags } = value
    walk.size(envelopeBytes('js.RegExp', 1) + REGEXP_DATA_BYTES + source.length + flags.length)
    walk.regexp(source, flags)
    return envelope('js.RegExp', 1, { source, flags })
  }
  if (value instanceof URL) {
    const href = value.href
    walk.size(envelopeBytes('js.URL', 1) + href.length + 2)
    return envelope('js.URL', 1, href)
  }
  if (value instanceof Error) return encodeError(value, level, walk)
  return undefined
}

/** Airflow's serialized UTC timezone, as Python writes it inside a datetime. */
function utcTimezone(): Record<string, unknown> {
  return envelope('builtins.tuple', 1, ['UTC', 'pendulum.tz.timezone.Timezone', 1, true])
}

const DATETIME_BYTES = JSON.stringify(
  envelope('datetime.datetime', 2, { timestamp: 0, tz: utcTimezone() }),
).length

function encodeDate(value: Date, walk: EncodeWalk): Record<string, unknown> {
  const ms = value.getTime()
  if (Number.isNaN(ms)) {
    walk.size(envelopeBytes('js.Date', 1) + 4)
    return envelope('js.Date', 1, null)
  }
  const seconds = ms / 1000
  if (secondsToMillis(seconds) === ms) {
    walk.size(DATETIME_BYTES)
    return envelope('datetime.datetime', 2, { timestamp: seconds, tz: utcTimezone() })
  }
  walk.size(envelopeBytes('js.Date', 1) + 1)
  return envelope('js.Date', 1, ms)
}

function encodeMap(value: Map<unknown, unknown>, level: number, walk: EncodeWalk): Record<string, unknown> {
  // `[` and a `,` or `]` after each pair, which is `[key,value]`.
  walk.size(envelopeBytes('js.Map', 1) + 1 + value.size * 4)
  const pairs: unknown[] = []
  let index = 0
  for (const [key, item] of value) {
    let encodedKey: unknown
    try {
      encodedKey = walk.value(key, level + 1)
    } catch (error) {
      throw atSegment(error, level, `.keys()[${index}]`)
    }
    try {
      pairs.push([encodedKey, walk.value(item, level + 1)])
    } catch (error) {
      throw atSegment(error, level, `.get(${previewKey(key, index)})`)
    }
    index++
  }
  return envelope('js.Map', 1, pairs)
}

function encodeSet(value: Set<unknown>, level: number, walk: EncodeWalk): Record<string, unknown> {
  walk.size(envelopeBytes('builtins.set', 1) + 1 + value.size)
  const items: unknown[] = []
  for (const item of value) {
    try {
      items.push(walk.value(item, level + 1))
    } catch (error) {
      throw atSegment(error, level, `.values()[${items.length}]`)
    }
  }
  return envelope('builtins.set', 1, items)
}

function bytes(classname: string, view: ArrayBufferView | ArrayBuffer, walk: EncodeWalk): unknown {
  walk.size(envelopeBytes(classname, 1) + 4 * Math.ceil(view.byteLength / 3) + 2)
  const buffer = ArrayBuffer.isView(view)
    ? Buffer.from(view.buffer, view.byteOffset, view.byteLength)
    : Buffer.from(view as ArrayBuffer)
  return envelope(classname, 1, buffer.toString('base64'))
}

function encodeError(value: Error, level: number, walk: EncodeWalk): Record<string, unknown> {
  const data: Record<string, unknown> = {
    name: typeof value.name === 'string' ? value.name : 'Error',
    message: typeof value.message === 'string' ? value.message : String(value.message),
  }
  if (typeof value.stack === 'string') data.stack = value.stack
  let bytes = envelopeBytes('js.Error', 1) + 1
  for (const [key, item] of Object.entries(data)) bytes += key.length + 4 + leafBytes(item)
  walk.size(bytes)
  if (Object.hasOwn(value, 'cause')) {
    walk.size('cause'.length + 4)
    try {
      data.cause = walk.value(value.cause, level + 1)
    } catch (error) {
      throw atSegment(error, level, '.cause')
    }
  }
  return envelope('js.Error', 1, data)
}

function previewKey(key: unknown, index: number): string {
  if (typeof key === 'string') return key.length <= 40 ? JSON.stringify(key) : `<long string key #${index}>`
  if (typeof key === 'number' || typeof key === 'boolean' || key === null) return String(key)
  if (typeof key === 'bigint') return `${key}n`
  return `<key #${index}>`
}
