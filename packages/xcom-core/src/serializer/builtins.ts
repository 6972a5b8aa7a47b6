/*
 * Built-in types of the serializer. JSON values are stored as they are; every other value is an envelope
 * `{"__classname__": name, "__version__": n, "__data__": data}`, Airflow's shape. Where Airflow's serde has a natural
 * shape for a type (Set, Date) we write exactly that, so Python tasks can read it; other types use `js.*` names.
 * These names and shapes are stable: never change one, add a new name or version instead.
 *
 * | JS value                                  | __classname__       | ver | __data__                                  |
 * |-------------------------------------------|---------------------|-----|-------------------------------------------|
 * | undefined (also inside objects, arrays)   | js.undefined        | 1   | null                                      |
 * | NaN, Infinity, -Infinity, -0              | js.Number           | 1   | "NaN", "Infinity", "-Infinity" or "-0"    |
 * | bigint                                    | js.BigInt           | 1   | decimal string, e.g. "-12"                |
 * | Date                                      | datetime.datetime   | 2   | {timestamp: seconds, tz: UTC as a tuple}  |
 * | Date, invalid or whose ms seconds can't   | js.Date             | 1   | epoch milliseconds, null when invalid     |
 * |   hold exactly (beyond year ~140000)      |                     |     |                                           |
 * | Map (any keys)                            | js.Map              | 1   | [[key, value], ...]                       |
 * | Set                                       | builtins.set        | 1   | [item, ...]                               |
 * | Buffer                                    | js.Buffer           | 1   | base64                                    |
 * | Int8Array ... BigUint64Array, Float16Array| js.<TypeName>       | 1   | base64 of the viewed bytes (platform byte |
 * |   (every typed array), e.g. Uint8Array    | e.g. js.Uint8Array  |     |   order: little-endian)                   |
 * | ArrayBuffer                               | js.ArrayBuffer      | 1   | base64                                    |
 * | DataView                                  | js.DataView         | 1   | base64 of the viewed bytes                |
 * | RegExp                                    | js.RegExp           | 1   | {source, flags}                           |
 * | URL                                       | js.URL              | 1   | href                                      |
 * | Error and subclasses                      | js.Error            | 1   | {name, message, stack?, cause?}           |
 * | plain object with a "__classname__" key   | builtins.dict       | 1   | the object itself, its values encoded     |
 *
 * Also read, as Airflow's serde (Python) writes them:
 *
 * | __classname__                                 | ver | becomes                                                 |
 * |-----------------------------------------------|-----|---------------------------------------------------------|
 * | builtins.tuple                                | 1   | Array                                                   |
 * | builtins.set, builtins.frozenset              | 1   | Set                                                     |
 * | builtins.dict                                 | 1   | plain object                                            |
 * | datetime.datetime, pendulum.datetime.DateTime | 2   | Date from `timestamp` (seconds, or the bare number of   |
 * |                                               |     | legacy payloads), rounded to the ms; `tz` is ignored as |
 * |                                               |     | the timestamp is absolute                               |
 * | datetime.date, pendulum.date.Date             | 2   | the ISO date string "YYYY-MM-DD" (a Date would invent a |
 * |                                               |     | time of day and a zone)                                 |
 * | datetime.timedelta                            | 2   | number of milliseconds (microsecond precision)          |
 * | decimal.Decimal                               | 1   | string: Python's string data as is, numbers via String()|
 * |                                               |     | (a JS number would lose digits)                         |
 * | uuid.UUID                                     | 1   | string                                                  |
 */
import { Buffer } from 'node:buffer'
import { atSegment, Failure } from './failure.js'

/** The envelope's class name key. */
export const CLASSNAME = '__classname__'
/** The envelope's version key. */
export const VERSION = '__version__'
/** The envelope's data key. */
export const DATA = '__data__'

/** What the built-in encoders need from the walk. */
export interface EncodeWalk {
  /** Encodes a child value; a container child sits at `level`. */
  value(value: unknown, level: number): unknown
}

/** What the built-in decoders need from the walk. */
export interface DecodeWalk {
  /** Decodes a child value; a container child sits at `level`. */
  value(value: unknown, level: number): unknown
  /** Decodes the items of an array that is the container at `level`. */
  array(items: readonly unknown[], level: number): unknown[]
  /** Decodes the values of a plain object that is the container at `level` (the object itself is never an envelope). */
  plain(object: Record<string, unknown>, level: number): Record<string, unknown>
}

/** Builds an envelope. */
export function envelope(classname: string, version: number, data: unknown): Record<string, unknown> {
  // Literal keys (not computed ones) give V8 one fast object shape for every envelope.
  return { __classname__: classname, __version__: version, __data__: data }
}

/** The envelope of `undefined`. */
export function encodeUndefined(): Record<string, unknown> {
  return envelope('js.undefined', 1, null)
}

/** The envelope of a number JSON cannot hold (NaN, ±Infinity, -0). */
export function encodeNumber(value: number): Record<string, unknown> {
  return envelope('js.Number', 1, Object.is(value, -0) ? '-0' : String(value))
}

/** The envelope of a bigint. */
export function encodeBigInt(value: bigint): Record<string, unknown> {
  return envelope('js.BigInt', 1, value.toString())
}

const TYPED_ARRAYS = new Map<
  string,
  { new (buffer: ArrayBuffer): ArrayBufferView; BYTES_PER_ELEMENT: number }
>(
  [
    ['Int8Array', Int8Array],
    ['Uint8Array', Uint8Array],
    ['Uint8ClampedArray', Uint8ClampedArray],
    ['Int16Array', Int16Array],
    ['Uint16Array', Uint16Array],
    ['Int32Array', Int32Array],
    ['Uint32Array', Uint32Array],
    ['Float32Array', Float32Array],
    ['Float64Array', Float64Array],
    ['BigInt64Array', BigInt64Array],
    ['BigUint64Array', BigUint64Array],
    ['Float16Array', (globalThis as Record<string, any>).Float16Array],
  ].filter((entry): entry is [string, any] => typeof entry[1] === 'function'),
)

const ERRORS = new Map<string, ErrorConstructor>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
])

function base64(view: ArrayBufferView | ArrayBuffer): string {
  const bytes = ArrayBuffer.isView(view)
    ? Buffer.from(view.buffer, view.byteOffset, view.byteLength)
    : Buffer.from(view as ArrayBuffer)
  return bytes.toString('base64')
}

/** Airflow's serialized UTC timezone, as Python writes it inside a datetime. */
function utcTimezone(): Record<string, unknown> {
  return envelope('builtins.tuple', 1, ['UTC', 'pendulum.tz.timezone.Timezone', 1, true])
}

/** Decodes `timestamp`-in-seconds the way both directions agree on: rounded to the millisecond. */
function secondsToMillis(seconds: number): number {
  return Math.round(seconds * 1000)
}

/**
 * Encodes a built-in object type, or returns `undefined` when `value` is none of them. `level` is the container
 * level of `value` itself.
 */
export function encodeBuiltin(value: object, level: number, walk: EncodeWalk): unknown {
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) return envelope('js.Date', 1, null)
    const seconds = ms / 1000
    if (secondsToMillis(seconds) === ms) {
      return envelope('datetime.datetime', 2, { timestamp: seconds, tz: utcTimezone() })
    }
    return envelope('js.Date', 1, ms)
  }
  if (value instanceof Map) {
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
  if (value instanceof Set) {
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
  if (Buffer.isBuffer(value)) return envelope('js.Buffer', 1, base64(value))
  if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView) return envelope('js.DataView', 1, base64(value))
    const name = (value as unknown as Record<symbol, unknown>)[Symbol.toStringTag]
    if (typeof name === 'string' && TYPED_ARRAYS.has(name)) return envelope(`js.${name}`, 1, base64(value))
    return undefined
  }
  if (value instanceof ArrayBuffer) return envelope('js.ArrayBuffer', 1, base64(value))
  if (value instanceof RegExp) return envelope('js.RegExp', 1, { source: value.source, flags: value.flags })
  if (value instanceof URL) return envelope('js.URL', 1, value.href)
  if (value instanceof Error) {
    const data: Record<string, unknown> = {
      name: typeof value.name === 'string' ? value.name : 'Error',
      message: typeof value.message === 'string' ? value.message : String(value.message),
    }
    if (typeof value.stack === 'string') data.stack = value.stack
    if (Object.hasOwn(value, 'cause')) {
      try {
        data.cause = walk.value(value.cause, level + 1)
      } catch (error) {
        throw atSegment(error, level, '.cause')
      }
    }
    return envelope('js.Error', 1, data)
  }
  return undefined
}

function previewKey(key: unknown, index: number): string {
  if (typeof key === 'string') return key.length <= 40 ? JSON.stringify(key) : `<long string key #${index}>`
  if (typeof key === 'number' || typeof key === 'boolean' || key === null) return String(key)
  if (typeof key === 'bigint') return `${key}n`
  return `<key #${index}>`
}

/** A decoder of one built-in class name: the newest version it reads and how. */
interface BuiltinDecoder {
  readonly version: number
  /** `level` is the container level of the envelope itself. */
  decode(data: unknown, level: number, walk: DecodeWalk): unknown
}

function corruption(classname: string, expected: string): Failure {
  return new Failure(
    'E_CORRUPT',
    `the data of a "${classname}" value is not ${expected}; it was damaged or not written by xcom.`,
  )
}

function corrupt(classname: string, expected: string): never {
  throw corruption(classname, expected)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined
}

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && NUMERIC.test(value)) return Number(value)
  return Number.NaN
}

function bytesFrom(classname: string, data: unknown): Buffer {
  if (typeof data !== 'string') corrupt(classname, 'a base64 string')
  // Node's decoder skips invalid characters; only canonical base64 (what we write) re-encodes to the same text.
  const bytes = Buffer.from(data, 'base64')
  if (bytes.toString('base64') !== data) corrupt(classname, 'canonical base64')
  return bytes
}

function freshBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes.byteLength)
  new Uint8Array(buffer).set(bytes)
  return buffer
}

function decodeDatetime(classname: string, data: unknown): Date {
  const seconds = toNumber(isRecord(data) ? own(data, 'timestamp') : data)
  const date = new Date(Number.isFinite(seconds) ? secondsToMillis(seconds) : Number.NaN)
  if (Number.isNaN(date.getTime())) corrupt(classname, 'a {timestamp} in seconds within the range of a Date')
  return date
}

function decodeSequence(classname: string, data: unknown, level: number, walk: DecodeWalk): unknown[] {
  if (!Array.isArray(data)) corrupt(classname, 'an array')
  try {
    return walk.array(data, level)
  } catch (error) {
    throw atSegment(error, level, `.${DATA}`)
  }
}

const decoders: [string, BuiltinDecoder][] = [
  [
    'js.undefined',
    {
      version: 1,
      decode: (data) => (data === null || data === undefined ? undefined : corrupt('js.undefined', 'null')),
    },
  ],
  [
    'js.Number',
    {
      version: 1,
      decode(data) {
        if (data === 'NaN') return Number.NaN
        if (data === 'Infinity') return Number.POSITIVE_INFINITY
        if (data === '-Infinity') return Number.NEGATIVE_INFINITY
        if (data === '-0') return -0
        return corrupt('js.Number', '"NaN", "Infinity", "-Infinity" or "-0"')
      },
    },
  ],
  [
    'js.BigInt',
    {
      version: 1,
      decode: (data) =>
        typeof data === 'string' && /^-?\d+$/.test(data)
          ? BigInt(data)
          : corrupt('js.BigInt', 'a decimal string'),
    },
  ],
  [
    'js.Date',
    {
      version: 1,
      decode(data) {
        if (data === null) return new Date(Number.NaN)
        if (typeof data !== 'number' || !Number.isInteger(data) || Math.abs(data) > 8.64e15) {
          return corrupt('js.Date', 'epoch milliseconds or null')
        }
        return new Date(data)
      },
    },
  ],
  [
    'js.Map',
    {
      version: 1,
      decode(data, level, walk) {
        if (!Array.isArray(data)) corrupt('js.Map', 'an array of [key, value] pairs')
        const map = new Map<unknown, unknown>()
        for (let index = 0; index < data.length; index++) {
          const pair: unknown = data[index]
          const segment = `.${DATA}[${index}]`
          if (!Array.isArray(pair) || pair.length !== 2) {
            throw atSegment(corruption('js.Map', 'a [key, value] pair'), level, segment)
          }
          let key: unknown
          try {
            key = walk.value(pair[0], level + 1)
          } catch (error) {
            throw atSegment(error, level, `${segment}[0]`)
          }
          try {
            map.set(key, walk.value(pair[1], level + 1))
          } catch (error) {
            throw atSegment(error, level, `${segment}[1]`)
          }
        }
        return map
      },
    },
  ],
  ['js.Buffer', { version: 1, decode: (data) => bytesFrom('js.Buffer', data) }],
  ['js.ArrayBuffer', { version: 1, decode: (data) => freshBuffer(bytesFrom('js.ArrayBuffer', data)) }],
  [
    'js.DataView',
    { version: 1, decode: (data) => new DataView(freshBuffer(bytesFrom('js.DataView', data))) },
  ],
  ...[...TYPED_ARRAYS].map(([name, TypedArray]): [string, BuiltinDecoder] => {
    const classname = `js.${name}`
    return [
      classname,
      {
        version: 1,
        decode(data) {
          const bytes = bytesFrom(classname, data)
          if (bytes.byteLength % TypedArray.BYTES_PER_ELEMENT !== 0) {
            corrupt(classname, `a whole number of ${TypedArray.BYTES_PER_ELEMENT}-byte elements`)
          }
          return new TypedArray(freshBuffer(bytes))
        },
      },
    ]
  }),
  [
    'js.RegExp',
    {
      version: 1,
      decode(data) {
        const source = isRecord(data) ? own(data, 'source') : undefined
        const flags = isRecord(data) ? own(data, 'flags') : undefined
        if (typeof source !== 'string' || typeof flags !== 'string')
          corrupt('js.RegExp', 'a {source, flags} object')
        try {
          return new RegExp(source, flags)
        } catch {
          return corrupt('js.RegExp', 'a valid regular expression')
        }
      },
    },
  ],
  [
    'js.URL',
    {
      version: 1,
      decode(data) {
        if (typeof data !== 'string' || !URL.canParse(data)) corrupt('js.URL', 'an absolute URL string')
        return new URL(data)
      },
    },
  ],
  [
    'js.Error',
    {
      version: 1,
      decode(data, level, walk) {
        const name = isRecord(data) ? own(data, 'name') : undefined
        const message = isRecord(data) ? own(data, 'message') : undefined
        if (!isRecord(data) || typeof name !== 'string' || typeof message !== 'string') {
          return corrupt('js.Error', 'a {name, message} object')
        }
        const stack = own(data, 'stack')
        if (stack !== undefined && typeof stack !== 'string')
          corrupt('js.Error', 'an object whose stack is a string')
        const ErrorClass = ERRORS.get(name) ?? Error
        const error = new ErrorClass(message)
        if (ErrorClass === Error && name !== 'Error') define(error, 'name', name)
        if (stack === undefined) delete error.stack
        else define(error, 'stack', stack)
        if (Object.hasOwn(data, 'cause')) {
          try {
            define(error, 'cause', walk.value(data.cause, level + 1))
          } catch (failure) {
            throw atSegment(failure, level, `.${DATA}.cause`)
          }
        }
        return error
      },
    },
  ],
  [
    'builtins.dict',
    {
      version: 1,
      decode(data, level, walk) {
        if (!isRecord(data)) corrupt('builtins.dict', 'an object')
        try {
          return walk.plain(data, level)
        } catch (error) {
          throw atSegment(error, level, `.${DATA}`)
        }
      },
    },
  ],
  [
    'builtins.tuple',
    { version: 1, decode: (data, level, walk) => decodeSequence('builtins.tuple', data, level, walk) },
  ],
  ...['builtins.set', 'builtins.frozenset'].map((classname): [string, BuiltinDecoder] => [
    classname,
    { version: 1, decode: (data, level, walk) => new Set(decodeSequence(classname, data, level, walk)) },
  ]),
  ...['datetime.datetime', 'pendulum.datetime.DateTime'].map((classname): [string, BuiltinDecoder] => [
    classname,
    { version: 2, decode: (data) => decodeDatetime(classname, data) },
  ]),
  ...['datetime.date', 'pendulum.date.Date'].map((classname): [string, BuiltinDecoder] => [
    classname,
    {
      version: 2,
      decode: (data) => (typeof data === 'string' ? data : corrupt(classname, 'an ISO date string')),
    },
  ]),
  [
    'datetime.timedelta',
    {
      version: 2,
      decode(data) {
        const seconds = toNumber(data)
        if (!Number.isFinite(seconds)) corrupt('datetime.timedelta', 'a number of seconds')
        return Math.round(seconds * 1e6) / 1e3
      },
    },
  ],
  [
    'decimal.Decimal',
    {
      version: 1,
      decode(data) {
        if (typeof data === 'string') return data
        if (typeof data === 'number' && Number.isFinite(data)) return String(data)
        return corrupt('decimal.Decimal', 'a number or a string')
      },
    },
  ],
  [
    'uuid.UUID',
    { version: 1, decode: (data) => (typeof data === 'string' ? data : corrupt('uuid.UUID', 'a string')) },
  ],
]

/** Every built-in class name the decoder reads, with its decoder. These names cannot be registered. */
export const BUILTIN_DECODERS: ReadonlyMap<string, BuiltinDecoder> = new Map(decoders)

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false })
}
