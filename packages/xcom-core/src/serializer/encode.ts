import {
  CLASSNAME,
  type EncodeWalk,
  encodeBigInt,
  encodeBuiltin,
  encodeNumber,
  encodeUndefined,
  envelope,
} from './builtins.js'
import { atSegment, Failure, fail, keySegment } from './failure.js'
import { type Entry, hasEnumerableKeys, messageOf, type Registrations, setOwn } from './internal.js'

const HOW_TO_FIX =
  'Store plain data, or register a serializer for it with registry.register() or registry.registerClass().'

/** The state of one encode call. Plain functions over this object: V8 runs them about twice as fast as methods. */
interface State extends EncodeWalk {
  readonly registrations: Registrations
  readonly maxDepth: number
  /** True when someone added enumerable keys to Object.prototype: `for...in` must then skip inherited keys. */
  readonly inherited: boolean
  /** The containers on the current path, by level; only read when maxDepth is exceeded, to detect cycles. */
  readonly ancestors: object[]
}

/**
 * Internal: turns a value into a JSON-compatible tree. Copy-on-write: a subtree with nothing to encode is returned
 * as it is, so plain JSON costs one type-checking walk and no allocation.
 */
export function encodeTree(value: unknown, registrations: Registrations): unknown {
  const state: State = {
    registrations,
    maxDepth: registrations.maxDepth,
    inherited: hasEnumerableKeys(Object.prototype),
    ancestors: [],
    value: (child, level) => encodeValue(state, child, level),
  }
  return encodeValue(state, value, 1)
}

/** Encodes any value; a container value sits at `level`. */
function encodeValue(state: State, value: unknown, level: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return isJsonNumber(value) ? value : encodeNumber(value)
    case 'object':
      return value === null ? null : encodeObject(state, value, level)
    case 'undefined':
      return encodeUndefined()
    case 'bigint':
      return encodeBigInt(value)
    case 'function':
      return fail('E_NOT_SERIALIZABLE', `it is a function, which cannot be stored. ${HOW_TO_FIX}`)
    default:
      return fail('E_NOT_SERIALIZABLE', `it is a ${typeof value}, which cannot be stored. ${HOW_TO_FIX}`)
  }
}

function encodeObject(state: State, value: object, level: number): unknown {
  if (level > state.maxDepth) tooDeep(state, value, level)
  state.ancestors[level] = value
  if (Array.isArray(value)) return encodeArray(state, value, level)
  const prototype = Object.getPrototypeOf(value)
  if (prototype === Object.prototype || prototype === null) {
    return encodePlain(state, value as Record<string, unknown>, level)
  }
  return encodeSpecial(state, value, prototype, level)
}

function encodeArray(state: State, items: readonly unknown[], level: number): unknown[] {
  let out: unknown[] | undefined
  const length = items.length
  let index = 0
  try {
    for (; index < length; index++) {
      const item = items[index]
      const encoded = isJsonLeaf(item) ? item : encodeValue(state, item, level + 1)
      if (out !== undefined) out.push(encoded)
      else if (encoded !== item) {
        out = items.slice(0, index)
        out.push(encoded)
      }
    }
  } catch (error) {
    throw atSegment(error, level, `[${index}]`)
  }
  return out ?? (items as unknown[])
}

function encodePlain(state: State, object: Record<string, unknown>, level: number): unknown {
  let out: Record<string, unknown> | undefined
  let key = ''
  try {
    for (key in object) {
      if (state.inherited && !Object.hasOwn(object, key)) continue
      const item = object[key]
      if (isJsonLeaf(item)) continue
      const encoded = encodeValue(state, item, level + 1)
      if (encoded !== item) {
        out ??= { ...object }
        setOwn(out, key, encoded)
      }
    }
  } catch (error) {
    throw atSegment(error, level, keySegment(key))
  }
  const result = out ?? object
  // A user object that looks like an envelope is wrapped, so it reads back as itself.
  return Object.hasOwn(object, CLASSNAME) ? envelope('builtins.dict', 1, result) : result
}

function encodeSpecial(state: State, value: object, prototype: object, level: number): unknown {
  const entry =
    state.registrations.byPrototype.get(prototype) ?? findTested(state.registrations.tested, value)
  if (entry !== undefined) return encodeCustom(state, entry, value, level)
  const builtin = encodeBuiltin(value, level, state)
  if (builtin !== undefined) return builtin
  return fail('E_NOT_SERIALIZABLE', unsupported(value, prototype))
}

function findTested(tested: readonly Entry[], value: object): Entry | undefined {
  for (const entry of tested) {
    let matches: boolean
    try {
      matches = entry.test!(value)
    } catch (error) {
      return fail(
        'E_NOT_SERIALIZABLE',
        `the test() of "${entry.classname}" threw: ${messageOf(error)}`,
        error,
      )
    }
    if (matches) return entry
  }
  return undefined
}

function encodeCustom(state: State, entry: Entry, value: object, level: number): unknown {
  let data: unknown
  try {
    data = entry.serialize(value)
  } catch (error) {
    return fail(
      'E_NOT_SERIALIZABLE',
      `the serialize() of "${entry.classname}" threw: ${messageOf(error)}`,
      error,
    )
  }
  try {
    return envelope(entry.classname, entry.version, encodeValue(state, data, level + 1))
  } catch (error) {
    throw atSegment(error, level, '.serialize()')
  }
}

/** Throws the circular-reference failure if the path repeats an object, else the depth failure. */
function tooDeep(state: State, value: object, level: number): never {
  const path = state.ancestors.slice(0, level)
  path[level] = value
  for (let repeat = 2; repeat <= level; repeat++) {
    const first = path.indexOf(path[repeat]!, 1)
    if (first < repeat) {
      throw new Failure(
        'E_NOT_SERIALIZABLE',
        'it is a circular reference back to {ancestor}, and circular values cannot be stored. Break the cycle, or store ids instead of references.',
        undefined,
        repeat,
        first,
      )
    }
  }
  throw new Failure(
    'E_TOO_LARGE',
    `it is nested deeper than maxDepth (${state.maxDepth}). Flatten the value or raise the maxDepth option.`,
  )
}

/** A string, boolean, null or number JSON holds as is (finite, not -0): nothing to encode. */
function isJsonLeaf(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return isJsonNumber(value)
    default:
      return value === null
  }
}

function isJsonNumber(value: number): boolean {
  return value - value === 0 && (value !== 0 || 1 / value > 0)
}

function unsupported(value: object, prototype: object): string {
  if (value instanceof Promise) return 'it is a Promise. Await it and store the result.'
  for (const Type of [WeakMap, WeakSet, WeakRef]) {
    if (value instanceof Type)
      return `it is a ${Type.name}, which cannot be enumerated. Use a Map, a Set or plain data.`
  }
  let name = ''
  try {
    const maker = (prototype as { constructor?: unknown }).constructor
    if (typeof maker === 'function') name = maker.name
  } catch {
    // an exotic prototype: fall back to the generic description
  }
  const what =
    name === '' ? `a ${Object.prototype.toString.call(value)} object` : `an instance of class ${name}`
  return `it is ${what}, which is neither plain data nor a registered type. ${HOW_TO_FIX}`
}
