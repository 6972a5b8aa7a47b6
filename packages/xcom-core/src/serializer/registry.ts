import { Buffer } from 'node:buffer'
import { XComError } from '../errors.ts'
import { type AllowList, compileAllowList } from './allow-list.ts'
import { BUILTIN_DECODERS } from './builtins.ts'
import { decodeTree } from './decode.ts'
import { encodeTree } from './encode.ts'
import { toXComError } from './failure.ts'
import { refuseAsyncHook } from './hooks.ts'
import type { Entry, Registrations } from './internal.ts'
import { TOO_LARGE_HINT } from './size.ts'
import type { CustomSerializer, SerializableClass, SerializerOptions } from './types.ts'

/** Default of {@link SerializerOptions.maxDepth}. */
export const DEFAULT_MAX_DEPTH = 100
/** Default of {@link SerializerOptions.maxSize}: 512 MiB, about the longest string V8 can hold. */
export const DEFAULT_MAX_SIZE = 512 * 1024 * 1024
const MAX_DEPTH_LIMIT = 1000

/**
 * Turns values into JSON text and back. JSON values are written as they are; other types use Airflow's envelope
 * `{"__classname__", "__version__", "__data__"}`: the built-in types (Date, BigInt, Map, Set, typed arrays, RegExp,
 * URL, undefined, NaN/±Infinity/-0, Error) and the custom types registered on this instance. Python values written
 * by Airflow's serde (tuple, set, datetime, date, timedelta, Decimal, UUID) are read too.
 *
 * Like JSON, only own enumerable string keys are written (symbol keys and non-enumerable properties are skipped) and
 * array holes read back as `undefined`; unlike JSON, `undefined`, `toJSON()` and class instances are never dropped or
 * converted silently: an unsupported value fails with `E_NOT_SERIALIZABLE` and its path. Decoding evaluates nothing
 * and never sets a prototype; keys like `__proto__` stay plain data.
 *
 * Each instance has its own registrations; creating or importing one registers nothing anywhere else.
 *
 * @example
 * ```ts
 * const serializer = new SerializerRegistry({ allow: ['shop.*'] }).registerClass(Money)
 * const text = serializer.serialize({ total: new Money(1250n, 'EUR'), at: new Date() })
 * const value = serializer.deserialize(text)
 * ```
 */
export class SerializerRegistry {
  /** The maximum nesting of containers, see {@link SerializerOptions.maxDepth}. */
  readonly maxDepth: number
  /** The maximum size of JSON text in bytes, see {@link SerializerOptions.maxSize}. */
  readonly maxSize: number
  readonly #registrations: Registrations & {
    byName: Map<string, Entry>
    byPrototype: Map<object, Entry>
    tested: Entry[]
  }

  /** @throws XComError `E_CONFIG` when an option is invalid. */
  constructor(options: SerializerOptions = {}) {
    this.maxDepth = checkLimit('maxDepth', options.maxDepth, DEFAULT_MAX_DEPTH, MAX_DEPTH_LIMIT)
    this.maxSize = checkLimit('maxSize', options.maxSize, DEFAULT_MAX_SIZE, Number.MAX_SAFE_INTEGER)
    const allow: AllowList = compileAllowList(options.allow)
    this.#registrations = {
      maxDepth: this.maxDepth,
      maxSize: this.maxSize,
      allow,
      byName: new Map(),
      byPrototype: new Map(),
      tested: [],
    }
  }

  /**
   * Registers a custom type. Its `test` is consulted, in registration order, for values that are not JSON
   * primitives, arrays, plain objects or instances of a class registered with {@link registerClass}.
   * @throws XComError `E_CONFIG` when the serializer is malformed, one of its functions is `async`, or its class
   * name is built in or taken.
   */
  register<T>(serializer: CustomSerializer<T>): this {
    for (const method of ['test', 'serialize', 'deserialize'] as const) {
      if (typeof serializer?.[method] !== 'function') {
        throw new XComError('E_CONFIG', `Cannot register a serializer without a ${method}() function.`)
      }
      refuseAsyncHook(
        serializer[method],
        method,
        `serializer ${JSON.stringify(String(serializer.classname))}`,
      )
    }
    const entry: Entry = {
      classname: serializer.classname,
      version: serializer.version,
      test: (value) => serializer.test(value),
      serialize: (value) => serializer.serialize(value as T),
      deserialize: (data, version) => serializer.deserialize(data, version),
    }
    this.#add(entry)
    this.#registrations.tested.push(entry)
    return this
  }

  /**
   * Registers a class that serializes itself: `static xcomClassname`, `static xcomVersion`, an instance
   * `serialize()` and `static deserialize(data, version)`. Instances are matched by their exact prototype.
   * @throws XComError `E_CONFIG` when the class lacks one of these, one of them is `async`, or its class name is
   * built in or taken.
   */
  registerClass<T extends { serialize(): unknown }>(cls: SerializableClass<T>): this {
    const candidate: unknown = cls
    const name = typeof candidate === 'function' ? candidate.name || 'the class' : String(candidate)
    if (typeof candidate !== 'function' || typeof cls.prototype !== 'object' || cls.prototype === null) {
      throw new XComError('E_CONFIG', `Cannot register ${name}: registerClass() takes a class.`)
    }
    if (typeof cls.deserialize !== 'function' || typeof cls.prototype.serialize !== 'function') {
      throw new XComError(
        'E_CONFIG',
        `Cannot register class ${name}: it needs an instance serialize() method and a static deserialize(data, version).`,
      )
    }
    refuseAsyncHook(cls.deserialize, 'deserialize', `class ${name}`)
    refuseAsyncHook(cls.prototype.serialize, 'serialize', `class ${name}`)
    if (this.#registrations.byPrototype.has(cls.prototype)) {
      throw new XComError('E_CONFIG', `Cannot register class ${name}: it is already registered.`)
    }
    const entry: Entry = {
      classname: cls.xcomClassname,
      version: cls.xcomVersion,
      serialize: (value) => (value as T).serialize(),
      deserialize: (data, version) => cls.deserialize(data, version),
    }
    this.#add(entry, ` (static xcomClassname/xcomVersion of class ${name})`)
    this.#registrations.byPrototype.set(cls.prototype, entry)
    return this
  }

  /**
   * Serializes a value to JSON text.
   * @throws XComError `E_NOT_SERIALIZABLE` naming the path of the first field that cannot be stored (functions,
   * symbols, circular references, unregistered class instances...); `E_TOO_LARGE` when the value is nested deeper
   * than `maxDepth`, its text exceeds `maxSize` (found while encoding, before the text is built), or its regular
   * expressions would cost too much to compile on reading; `E_CONFIG` when a custom serializer returns a Promise.
   */
  serialize(value: unknown): string {
    return this.serializeText(value).text
  }

  /**
   * Like {@link serialize}, also telling whether the text is plain JSON: nothing in the value needed encoding, so the
   * text holds no envelope and `deserialize(text, { plain: true })` reads it back with `JSON.parse` alone.
   * @throws XComError as {@link serialize}.
   */
  serializeText(value: unknown): { text: string; plain: boolean } {
    const tree = this.encode(value)
    let text: string
    try {
      text = JSON.stringify(tree)
    } catch (error) {
      // V8 cannot build a string this long: far beyond any sane maxSize.
      throw new XComError(
        'E_TOO_LARGE',
        `Cannot serialize value: its JSON text is too long for one string. ${TOO_LARGE_HINT}`,
        {
          path: 'value',
          cause: error,
        },
      )
    }
    this.#checkSize(text, 'serialize')
    // Encoding is copy-on-write: the very same value back means nothing was encoded.
    return { text, plain: tree === value }
  }

  /**
   * Reads JSON text written by {@link serialize} (or by Airflow's serde). With `plain: true` the text is only parsed,
   * without the walk that decodes envelopes and checks `maxDepth`: pass it only for text that {@link serializeText}
   * reported plain and that is known to be unchanged since (e.g. verified against a checksum).
   * @throws XComError `E_TOO_LARGE` when the text exceeds `maxSize`, nests deeper than `maxDepth`, or holds regular
   * expressions that would cost too much to compile; `E_CORRUPT` when it is not JSON or an envelope is malformed
   * (including Maps and Sets whose keys were crafted to collide); `E_NOT_ALLOWED` for a class name that is not
   * registered or not allowed; `E_NOT_SERIALIZABLE` when a stored version is newer than the registered one;
   * `E_CONFIG` when a custom deserializer returns a Promise.
   */
  deserialize(text: string, options?: { plain?: boolean }): unknown {
    if (typeof text !== 'string') {
      throw new XComError(
        'E_CORRUPT',
        `Cannot deserialize value: expected JSON text, got a ${typeof text}.`,
        {
          path: 'value',
        },
      )
    }
    this.#checkSize(text, 'deserialize')
    let tree: unknown
    try {
      tree = JSON.parse(text)
    } catch (error) {
      throw new XComError(
        'E_CORRUPT',
        `Cannot deserialize value: the stored text is not valid JSON (${(error as Error).message}). It was damaged or not written by xcom.`,
        { path: 'value', cause: error },
      )
    }
    return options?.plain === true ? tree : this.decode(tree)
  }

  /**
   * Encodes a value to the JSON-compatible tree that {@link serialize} stringifies. Subtrees with nothing to encode
   * are returned as they are (not copied): do not modify the result if you keep using the value. `maxSize` applies to
   * the size the tree's text would have at least.
   * @throws XComError as {@link serialize}.
   */
  encode(value: unknown): unknown {
    try {
      return encodeTree(value, this.#registrations)
    } catch (error) {
      throw toXComError(error, 'serialize')
    }
  }

  /**
   * Decodes a JSON tree (as returned by `JSON.parse` or {@link encode}). The tree is never modified; subtrees
   * with nothing to decode are returned as they are.
   * @throws XComError as {@link deserialize}, except for `maxSize`.
   */
  decode(tree: unknown): unknown {
    try {
      return decodeTree(tree, this.#registrations)
    } catch (error) {
      throw toXComError(error, 'deserialize')
    }
  }

  #add(entry: Entry, where = ''): void {
    const { classname, version } = entry
    if (typeof classname !== 'string' || classname === '') {
      throw new XComError(
        'E_CONFIG',
        `Cannot register a serializer: its classname${where} must be a non-empty string.`,
      )
    }
    if (BUILTIN_DECODERS.has(classname) || classname.startsWith('js.')) {
      throw new XComError(
        'E_CONFIG',
        `Cannot register "${classname}": built-in class names and the js.* prefix are reserved. Choose your own, e.g. "myapp.${classname}".`,
      )
    }
    if (this.#registrations.byName.has(classname)) {
      throw new XComError(
        'E_CONFIG',
        `Cannot register "${classname}": a serializer with this class name is already registered.`,
      )
    }
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
      throw new XComError(
        'E_CONFIG',
        `Cannot register "${classname}": its version${where} must be a non-negative integer.`,
      )
    }
    this.#registrations.byName.set(classname, entry)
  }

  #checkSize(text: string, action: 'serialize' | 'deserialize'): void {
    // UTF-8 takes 1 to 3 bytes per UTF-16 unit: count bytes only when the length alone cannot decide.
    if (text.length * 3 <= this.maxSize) return
    const bytes = text.length > this.maxSize ? text.length : Buffer.byteLength(text, 'utf8')
    if (bytes <= this.maxSize) return
    throw new XComError(
      'E_TOO_LARGE',
      `Cannot ${action} value: its JSON text is ${text.length > this.maxSize ? 'more than ' : ''}${bytes} bytes, more than maxSize (${this.maxSize}). ${TOO_LARGE_HINT}`,
      { path: 'value' },
    )
  }
}

/**
 * Creates a {@link SerializerRegistry} with no custom registrations.
 * @throws XComError `E_CONFIG` when an option is invalid.
 */
export function createSerializer(options?: SerializerOptions): SerializerRegistry {
  return new SerializerRegistry(options)
}

function checkLimit(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new XComError(
      'E_CONFIG',
      `The serializer option ${name} must be an integer from 1 to ${max}; got ${String(value)}.`,
    )
  }
  return value
}
