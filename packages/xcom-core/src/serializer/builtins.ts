/*
 * Built-in types of the serializer. JSON values are stored as they are; every other value is an envelope
 * `{"__classname__": name, "__version__": n, "__data__": data}`, Airflow's shape. Where Airflow's serde has a natural
 * shape for a type (Set, Date) we write exactly that, so Python tasks can read it; other types use `js.*` names.
 * These names and shapes are stable: never change one, add a new name or version instead. Encoders are in
 * encode-builtins.ts, decoders in decode-js.ts and decode-python.ts; each decoder takes time linear in its data.
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
import { JS_DECODERS } from './decode-js.ts'
import { PYTHON_DECODERS } from './decode-python.ts'
import type { BuiltinDecoder } from './envelope.ts'

/** Every built-in class name the decoder reads, with its decoder. These names cannot be registered. */
export const BUILTIN_DECODERS: ReadonlyMap<string, BuiltinDecoder> = new Map([
  ...JS_DECODERS,
  ...PYTHON_DECODERS,
])
