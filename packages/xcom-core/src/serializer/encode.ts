import { encodeBigInt, encodeBuiltin, encodeNumber, encodeUndefined } from './encode-builtins.ts'
import { CLASSNAME, type EncodeWalk, envelope, envelopeBytes } from './envelope.ts'
import { atSegment, Failure, fail, keySegment } from './failure.ts'
import { refuseThenable } from './hooks.ts'
import { type Entry, hasEnumerableKeys, messageOf, type Registrations, setOwn } from './internal.ts'
import { RegExpBudget } from './regexp-cost.ts'
import { isJsonNumber, leafBytes, numberBytes, tooLarge } from './size.ts'

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
  readonly maxSize: number
  /** A lower bound of the bytes of the text so far: counted while encoding, so no oversized value is ever built. */
  bytes: number
  /** Created by the first regular expression met. */
  regexps: RegExpBudget | undefined
}

/**
 * Internal: turns a value into a JSON-compatible tree. Copy-on-write: a subtree with nothing to encode is returned
 * as it is, so plain JSON costs one type-checking walk and no allocation. Fails with `E_TOO_LARGE` as soon as the
 * text would pass `maxSize`, counting a lower bound of each part's bytes before building it.
 */
export function encodeTree(value: unknown, registrations: Registrations): unknown {
  const state: State = {
    registrations,
    maxDepth: registrations.maxDepth,
    inherited: hasEnumerableKeys(Object.prototype),
    ancestors: [],
    maxSize: registrations.maxSize,
    bytes: 0,
    regexps: undefined,
    value: (child, level) => encodeValue(state, child, level),
    size: (bytes) => grow(state, bytes),
    regexp: (source, flags) => {
      state.regexps ??= new RegExpBudget()
      state.regexps.charge(source, flags)
    },
  }
  return encodeValue(state, value, 1)
}

/** Adds `bytes` to the text's size, failing once it passes maxSize. */
function grow(state: State, bytes: number): void {
  state.bytes += bytes
  if (state.bytes > state.maxSize) throw tooLarge(state.maxSize)
}

/** Encodes any value; a container value sits at `level`. */
function encodeValue(state: State, value: unknown, level: number): unknown {
  switch (typeof value) {
    case 'string':
      grow(state, value.length + 2)
      return value
    case 'boolean':
      grow(state, value ? 4 : 5)
      return value
    case 'number':
      if (!isJsonNumber(value)) return encodeNumber(value, state)
      grow(state, numberBytes(value))
      return value
    case 'object':
      if (value !== null) return encodeObject(state, value, level)
      grow(state, 4)
      return null
    case 'undefined':
      return encodeUndefined(state)
    case 'bigint':
      return encodeBigInt(value, state)
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
  // `[` and a `,` or `]` after each item: a huge sparse array fails here, before its first item.
  grow(state, length + 1)
  let index = 0
  try {
    for (; index < length; index++) {
      const item = items[index]
      const bytes = leafBytes(item)
      let encoded = item
      if (bytes >= 0) grow(state, bytes)
      else encoded = encodeValue(state, item, level + 1)
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
  grow(state, 1)
  try {
    for (key in object) {
      if (state.inherited && !Object.hasOwn(object, key)) continue
      const item = object[key]
      // The quoted key, `:` and the `,` or `}` after the entry.
      grow(state, key.length + 4)
      const bytes = leafBytes(item)
      if (bytes >= 0) {
        grow(state, bytes)
        continue
      }
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
  if (!Object.hasOwn(object, CLASSNAME)) return result
  grow(state, envelopeBytes('builtins.dict', 1))
  return envelope('builtins.dict', 1, result)
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
    refuseThenable(matches, 'test', `"${entry.classname}"`)
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
  refuseThenable(data, 'serialize', `"${entry.classname}"`)
  grow(state, envelopeBytes(entry.classname, entry.version))
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
