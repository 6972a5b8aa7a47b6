import {
  type BuiltinDecoder,
  corrupt,
  DATA,
  type DecodeWalk,
  isRecord,
  own,
  secondsToMillis,
} from './envelope.ts'
import { atSegment } from './failure.ts'
import { CROWDED_KEYS, crowdedKeys } from './hash-flood.ts'

/**
 * A decimal number as Python's `str(float)` and JSON write it. Unambiguous (each character has one way to match), so
 * a failed match backtracks in linear time: `\d+\.?\d*` here once took seconds to refuse 100 kB of digits.
 */
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && NUMERIC.test(value)) return Number(value)
  return Number.NaN
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

function decodeSet(classname: string, data: unknown, level: number, walk: DecodeWalk): Set<unknown> {
  const items = decodeSequence(classname, data, level, walk)
  if (crowdedKeys(items)) corrupt(classname, CROWDED_KEYS)
  return new Set(items)
}

/**
 * The decoders of the class names Airflow's serde (Python) writes, read as their natural JS counterparts. Each takes
 * time linear in its data, like those of decode-js.ts.
 */
export const PYTHON_DECODERS: [classname: string, decoder: BuiltinDecoder][] = [
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
    { version: 1, decode: (data, level, walk) => decodeSet(classname, data, level, walk) },
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
