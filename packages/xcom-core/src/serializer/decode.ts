import { BUILTIN_DECODERS } from './builtins.ts'
import { CLASSNAME, DATA, type DecodeWalk, VERSION } from './envelope.ts'
import { atSegment, fail, keySegment } from './failure.ts'
import { refuseThenable } from './hooks.ts'
import { hasEnumerableKeys, messageOf, type Registrations, setOwn } from './internal.ts'
import { RegExpBudget } from './regexp-cost.ts'

/** The state of one decode call. Plain functions over this object: V8 runs them about twice as fast as methods. */
interface State extends DecodeWalk {
  readonly registrations: Registrations
  readonly maxDepth: number
  /** True when someone added enumerable keys to Object.prototype: `for...in` must then skip inherited keys. */
  readonly inherited: boolean
  /** Created by the first regular expression met. */
  regexps: RegExpBudget | undefined
}

/**
 * Internal: turns a JSON tree back into values. Only objects with an own `__classname__` key are rewritten; every
 * other subtree is returned as it is (copy-on-write, the input is never modified). Nothing is evaluated and no
 * prototype is ever set: objects are created by literals and spreads, keys like `__proto__` stay plain data.
 */
export function decodeTree(tree: unknown, registrations: Registrations): unknown {
  const state: State = {
    registrations,
    maxDepth: registrations.maxDepth,
    inherited: hasEnumerableKeys(Object.prototype),
    regexps: undefined,
    value: (child, level) => decodeValue(state, child, level),
    array: (items, level) => decodeArray(state, items, level),
    plain: (object, level) => decodePlain(state, object, level),
    regexp: (source, flags) => {
      state.regexps ??= new RegExpBudget()
      return state.regexps.compile(source, flags)
    },
  }
  return decodeValue(state, tree, 1)
}

function decodeValue(state: State, value: unknown, level: number): unknown {
  return typeof value === 'object' && value !== null ? decodeObject(state, value, level) : value
}

function decodeObject(state: State, value: object, level: number): unknown {
  if (level > state.maxDepth) {
    fail(
      'E_TOO_LARGE',
      `it is nested deeper than maxDepth (${state.maxDepth}). Raise the maxDepth option to read it.`,
    )
  }
  if (Array.isArray(value)) return decodeArray(state, value, level)
  if (Object.hasOwn(value, CLASSNAME)) return decodeEnvelope(state, value as Record<string, unknown>, level)
  return decodePlain(state, value as Record<string, unknown>, level)
}

function decodeArray(state: State, items: readonly unknown[], level: number): unknown[] {
  let out: unknown[] | undefined
  const length = items.length
  let index = 0
  try {
    for (; index < length; index++) {
      const item = items[index]
      const decoded = typeof item === 'object' && item !== null ? decodeObject(state, item, level + 1) : item
      if (out !== undefined) out.push(decoded)
      else if (decoded !== item) {
        out = items.slice(0, index)
        out.push(decoded)
      }
    }
  } catch (error) {
    throw atSegment(error, level, `[${index}]`)
  }
  return out ?? (items as unknown[])
}

function decodePlain(state: State, object: Record<string, unknown>, level: number): Record<string, unknown> {
  let out: Record<string, unknown> | undefined
  let key = ''
  try {
    for (key in object) {
      if (state.inherited && !Object.hasOwn(object, key)) continue
      const item = object[key]
      if (typeof item === 'object' && item !== null) {
        const decoded = decodeObject(state, item, level + 1)
        if (decoded !== item) {
          out ??= { ...object }
          setOwn(out, key, decoded)
        }
      }
    }
  } catch (error) {
    throw atSegment(error, level, keySegment(key))
  }
  return out ?? object
}

function decodeEnvelope(state: State, object: Record<string, unknown>, level: number): unknown {
  for (const key of Object.keys(object)) {
    if (key !== CLASSNAME && key !== VERSION && key !== DATA) {
      fail(
        'E_CORRUPT',
        `it has a "${CLASSNAME}" key and also ${JSON.stringify(key).slice(0, 60)}, so it is neither an envelope nor an object written by xcom (which escapes such objects). The data was damaged or written by other software.`,
      )
    }
  }
  const classname = object[CLASSNAME]
  const version = Object.hasOwn(object, VERSION) ? object[VERSION] : undefined
  const data = Object.hasOwn(object, DATA) ? object[DATA] : undefined
  if (typeof classname !== 'string' || classname === '') {
    fail(
      'E_CORRUPT',
      `its "${CLASSNAME}" is not a non-empty string. The data was damaged or written by other software.`,
    )
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    fail(
      'E_CORRUPT',
      `its "${VERSION}" is not a non-negative integer. The data was damaged or written by other software.`,
    )
  }
  const builtin = BUILTIN_DECODERS.get(classname)
  if (builtin !== undefined) {
    if (version > builtin.version) newer(classname, version, builtin.version)
    return builtin.decode(data, level, state)
  }
  const entry = state.registrations.byName.get(classname)
  if (entry === undefined) {
    const name = quoted(classname)
    fail(
      'E_NOT_ALLOWED',
      `no serializer is registered for class ${name}, so it is not decoded. Register one with registry.register({ classname: ${name}, ... }) or registry.registerClass(...) before reading.`,
    )
  }
  if (!state.registrations.allow(classname)) {
    fail(
      'E_NOT_ALLOWED',
      `class ${quoted(classname)} is not in the allow list. Add its name, a glob or a RegExp matching it to the serializer's \`allow\` option to read it.`,
    )
  }
  if (version > entry.version) newer(classname, version, entry.version)
  let decoded: unknown
  try {
    decoded = decodeValue(state, data, level + 1)
  } catch (error) {
    throw atSegment(error, level, `.${DATA}`)
  }
  let value: unknown
  try {
    value = entry.deserialize(decoded, version)
  } catch (error) {
    return fail(
      'E_CORRUPT',
      `the deserialize() of class ${quoted(classname)} threw: ${messageOf(error)}`,
      error,
    )
  }
  refuseThenable(value, 'deserialize', `class ${quoted(classname)}`)
  return value
}

/** A class name for messages: quoted, and cut when absurdly long. */
function quoted(classname: string): string {
  return JSON.stringify(classname.length > 200 ? `${classname.slice(0, 200)}...` : classname)
}

function newer(classname: string, stored: number, known: number): never {
  return fail(
    'E_NOT_SERIALIZABLE',
    `it was written as version ${stored} of class ${quoted(classname)}, newer than the version this code reads (${known}). Upgrade the code that reads it.`,
  )
}
