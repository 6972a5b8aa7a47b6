import { Buffer } from 'node:buffer'
import { type BuiltinDecoder, corrupt, corruption, DATA, type DecodeWalk, isRecord, own } from './envelope.ts'
import { atSegment, Failure } from './failure.ts'
import { CROWDED_KEYS, crowdedKeys } from './hash-flood.ts'
import { ERRORS, TYPED_ARRAYS } from './js-types.ts'

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

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false })
}

function decodeMap(data: unknown, level: number, walk: DecodeWalk): Map<unknown, unknown> {
  if (!Array.isArray(data)) corrupt('js.Map', 'an array of [key, value] pairs')
  const keys: unknown[] = new Array(data.length)
  const values: unknown[] = new Array(data.length)
  for (let index = 0; index < data.length; index++) {
    const pair: unknown = data[index]
    const segment = `.${DATA}[${index}]`
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw atSegment(corruption('js.Map', 'a [key, value] pair'), level, segment)
    }
    try {
      keys[index] = walk.value(pair[0], level + 1)
    } catch (error) {
      throw atSegment(error, level, `${segment}[0]`)
    }
    try {
      values[index] = walk.value(pair[1], level + 1)
    } catch (error) {
      throw atSegment(error, level, `${segment}[1]`)
    }
  }
  if (crowdedKeys(keys)) corrupt('js.Map', CROWDED_KEYS)
  const map = new Map<unknown, unknown>()
  for (let index = 0; index < keys.length; index++) map.set(keys[index], values[index])
  return map
}

function decodeRegExp(data: unknown, walk: DecodeWalk): RegExp {
  const source = isRecord(data) ? own(data, 'source') : undefined
  const flags = isRecord(data) ? own(data, 'flags') : undefined
  if (typeof source !== 'string' || typeof flags !== 'string')
    corrupt('js.RegExp', 'a {source, flags} object')
  try {
    return walk.regexp(source, flags)
  } catch (error) {
    if (error instanceof Failure) throw error
    return corrupt('js.RegExp', 'a valid regular expression')
  }
}

function decodeError(data: unknown, level: number, walk: DecodeWalk): Error {
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
}

/**
 * The decoders of the `js.*` class names: JS types Python has no counterpart for. Each takes time linear in its data;
 * test/serializer-linear.test.ts feeds each one its worst inputs.
 */
export const JS_DECODERS: [classname: string, decoder: BuiltinDecoder][] = [
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
  ['js.Map', { version: 1, decode: decodeMap }],
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
  ['js.RegExp', { version: 1, decode: (data, _level, walk) => decodeRegExp(data, walk) }],
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
  ['js.Error', { version: 1, decode: decodeError }],
]
