import { Failure } from './failure.ts'

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
  /** Adds bytes the text will hold (a lower bound); throws `E_TOO_LARGE` once the total passes `maxSize`. */
  size(bytes: number): void
  /** Charges the cost of compiling a regular expression on reading; throws `E_TOO_LARGE` past the budget. */
  regexp(source: string, flags: string): void
}

/** What the built-in decoders need from the walk. */
export interface DecodeWalk {
  /** Decodes a child value; a container child sits at `level`. */
  value(value: unknown, level: number): unknown
  /** Decodes the items of an array that is the container at `level`. */
  array(items: readonly unknown[], level: number): unknown[]
  /** Decodes the values of a plain object that is the container at `level` (the object itself is never an envelope). */
  plain(object: Record<string, unknown>, level: number): Record<string, unknown>
  /** Compiles a regular expression within the call's budget; throws `E_TOO_LARGE` past it. */
  regexp(source: string, flags: string): RegExp
}

/** A decoder of one built-in class name: the newest version it reads and how. */
export interface BuiltinDecoder {
  readonly version: number
  /** `level` is the container level of the envelope itself. */
  decode(data: unknown, level: number, walk: DecodeWalk): unknown
}

/** Builds an envelope. */
export function envelope(classname: string, version: number, data: unknown): Record<string, unknown> {
  // Literal keys (not computed ones) give V8 one fast object shape for every envelope.
  return { __classname__: classname, __version__: version, __data__: data }
}

/** The bytes of an envelope's JSON text besides its data: `{"__classname__":"…","__version__":n,"__data__":…}`. */
export function envelopeBytes(classname: string, version: number): number {
  return 47 + classname.length + String(version).length
}

/** Decodes `timestamp`-in-seconds the way both directions agree on: rounded to the millisecond. */
export function secondsToMillis(seconds: number): number {
  return Math.round(seconds * 1000)
}

/** The failure for data that does not have the shape its class name promises. */
export function corruption(classname: string, expected: string): Failure {
  return new Failure(
    'E_CORRUPT',
    `the data of a "${classname}" value is not ${expected}; it was damaged or not written by xcom.`,
  )
}

/** Throws {@link corruption}. */
export function corrupt(classname: string, expected: string): never {
  throw corruption(classname, expected)
}

/** A plain object or an object-like value that is not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An own property, never an inherited one. */
export function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined
}
