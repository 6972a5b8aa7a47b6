// Fuzz: random and mutated envelopes into deserialize() only ever throw XComError, never pollute a prototype.
import { Buffer } from 'node:buffer'
import { expect, it } from 'vitest'
import { XComError } from '../src/errors.ts'
import { SerializerRegistry } from '../src/serializer/index.ts'
import { mulberry32 } from './random.ts'
import { DANGEROUS_KEYS, Point } from './support.ts'

const registry = new SerializerRegistry({ allow: ['geo.*'], maxDepth: 40 }).registerClass(Point).register({
  classname: 'secret.Thing',
  version: 1,
  test: (_value): _value is never => false,
  serialize: () => null,
  deserialize: () => ({ leaked: true }),
})

const next = mulberry32(20240601)
const below = (n: number) => Math.floor(next() * n)
const pick = <T>(items: readonly T[]): T => items[below(items.length)]!

const CLASSNAMES = [
  'js.undefined',
  'js.Number',
  'js.BigInt',
  'js.Date',
  'js.Map',
  'js.Buffer',
  'js.Uint8Array',
  'js.Float64Array',
  'js.BigInt64Array',
  'js.ArrayBuffer',
  'js.DataView',
  'js.RegExp',
  'js.URL',
  'js.Error',
  'builtins.dict',
  'builtins.tuple',
  'builtins.set',
  'builtins.frozenset',
  'datetime.datetime',
  'pendulum.datetime.DateTime',
  'datetime.date',
  'datetime.timedelta',
  'decimal.Decimal',
  'uuid.UUID',
  'geo.Point',
  'secret.Thing',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'Object',
  'Function',
  'eval',
  '',
  'x'.repeat(300),
]
const KEYS = [
  ...DANGEROUS_KEYS,
  'x',
  'y',
  'name',
  'message',
  'stack',
  'cause',
  'source',
  'flags',
  'timestamp',
  'tz',
  'polluted',
  '',
]
const STRINGS = [
  '',
  'NaN',
  '-0',
  'Infinity',
  '12',
  '-99999999999999999999',
  '1.5',
  'AQID',
  '***',
  'AA==',
  'https://x/',
  '(',
  'gimsuyd',
  'zz',
  '2023-04-01',
  '__proto__',
  'not a url',
  'ÿ€',
]
const NUMBERS = [0, -0, 1, -1, 1.5, 2, 3, 1e300, -1e300, 2 ** 53, 8.64e15, 8.64e15 + 1, 1680307200.123]

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
}

function randomJson(depth: number): unknown {
  switch (below(depth > 3 ? 5 : 9)) {
    case 0:
      return null
    case 1:
      return next() < 0.5
    case 2:
      return pick(NUMBERS)
    case 3:
      return pick(STRINGS)
    case 4:
      return pick(CLASSNAMES)
    case 5:
      return Array.from({ length: below(4) }, () => randomJson(depth + 1))
    case 6:
      return randomEnvelope(depth + 1)
    default: {
      const object: Record<string, unknown> = {}
      for (let i = below(4); i > 0; i--) setOwn(object, pick(KEYS), randomJson(depth + 1))
      return object
    }
  }
}

function randomEnvelope(depth: number): Record<string, unknown> {
  const envelope: Record<string, unknown> = {}
  if (next() < 0.97)
    setOwn(envelope, '__classname__', next() < 0.9 ? pick(CLASSNAMES) : randomJson(depth + 1))
  if (next() < 0.9)
    setOwn(envelope, '__version__', next() < 0.8 ? below(4) : pick([-1, 1.5, '1', null, 1e300, 2 ** 60]))
  if (next() < 0.9) setOwn(envelope, '__data__', randomJson(depth + 1))
  if (next() < 0.05) setOwn(envelope, pick(KEYS), randomJson(depth + 1))
  return envelope
}

/** Valid texts the mutations start from. */
const seeds = [
  { a: [undefined, Number.NaN, -0, 5n], d: new Date(0), bad: new Date(Number.NaN) },
  new Map<unknown, unknown>([
    [{ k: 1 }, new Set([1, 'x'])],
    [new Point(1, 2), [new URL('https://x/')]],
  ]),
  {
    bytes: new Uint8Array([1, 2, 3]),
    b: Buffer.from('hi'),
    f: new Float64Array([1.5]),
    ab: new ArrayBuffer(2),
  },
  {
    e: new TypeError('t', { cause: new RangeError('r', { cause: [/a+/giu] }) }),
    v: new DataView(new ArrayBuffer(4)),
  },
  {
    __classname__: 'js.BigInt',
    __version__: 1,
    __data__: 'not really',
    nested: { __classname__: 'geo.Point' },
  },
  JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}'),
].map((value) => registry.serialize(value))

function mutateTree(tree: unknown, depth = 0): unknown {
  if (next() < 0.25 || depth > 6) return next() < 0.5 ? randomEnvelope(depth) : randomJson(depth)
  if (Array.isArray(tree)) {
    const copy = [...tree]
    if (copy.length > 0) copy[below(copy.length)] = mutateTree(copy[below(copy.length)], depth + 1)
    if (next() < 0.2) copy.push(randomJson(depth + 1))
    return copy
  }
  if (typeof tree === 'object' && tree !== null) {
    const copy: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(tree)) setOwn(copy, key, value)
    const keys = Object.keys(copy)
    const roll = next()
    if (roll < 0.15 && keys.length > 0) delete copy[pick(keys)]
    else if (roll < 0.3) setOwn(copy, pick(KEYS), randomJson(depth + 1))
    else if (keys.length > 0) {
      const key = pick(keys)
      setOwn(copy, key, mutateTree(copy[key], depth + 1))
    }
    return copy
  }
  return randomJson(depth)
}

function mutateText(text: string): string {
  const at = below(text.length + 1)
  switch (below(5)) {
    case 0:
      return text.slice(0, at)
    case 1:
      return (
        text.slice(0, at) +
        pick(['{', '}', '[', ']', ',', '"', ':', '\\', '0', 'NaN', 'e9999']) +
        text.slice(at)
      )
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + below(8))
    case 3:
      return `${'['.repeat(below(80))}${text}${']'.repeat(below(80))}`
    default:
      return text.replace(/"__[a-z]+__"/, `"${pick(KEYS)}"`)
  }
}

function input(iteration: number): string {
  const seed = seeds[iteration % seeds.length]!
  switch (iteration % 4) {
    case 0:
      return JSON.stringify(mutateTree(JSON.parse(seed)))
    case 1:
      return JSON.stringify(randomEnvelope(0))
    case 2:
      return JSON.stringify(randomJson(0))
    default:
      return mutateText(next() < 0.5 ? seed : JSON.stringify(mutateTree(JSON.parse(seed))))
  }
}

function prototypeSnapshot(): string {
  return [Object.prototype, Array.prototype, Function.prototype, Error.prototype, Map.prototype]
    .map((proto) => Reflect.ownKeys(proto).map(String).sort().join(','))
    .join('|')
}

/** Every plain object in a decoded value has Object.prototype: decoding never sets one. */
function checkPrototypes(value: unknown, depth = 0): void {
  if (typeof value !== 'object' || value === null || depth > 50) return
  if (value instanceof Map) {
    for (const [k, v] of value) {
      checkPrototypes(k, depth + 1)
      checkPrototypes(v, depth + 1)
    }
    return
  }
  if (value instanceof Set) {
    for (const item of value) checkPrototypes(item, depth + 1)
    return
  }
  const proto = Object.getPrototypeOf(value)
  if (
    !Array.isArray(value) &&
    !(value instanceof Point) &&
    !(value instanceof Error) &&
    !ArrayBuffer.isView(value)
  ) {
    const allowed = [Object.prototype, Date.prototype, RegExp.prototype, URL.prototype, ArrayBuffer.prototype]
    if (!allowed.includes(proto))
      throw new Error(`decoding produced an object with an unexpected prototype: ${String(proto)}`)
  }
  for (const key of Object.keys(value)) checkPrototypes((value as Record<string, unknown>)[key], depth + 1)
}

it('100,000 random and mutated envelopes only ever throw XComError and never pollute a prototype', () => {
  const before = prototypeSnapshot()
  const outcomes = new Map<string, number>()
  for (let iteration = 0; iteration < 100_000; iteration++) {
    const text = input(iteration)
    let outcome = 'decoded'
    try {
      checkPrototypes(registry.deserialize(text))
    } catch (error) {
      if (!XComError.is(error)) {
        throw new Error(`deserialize threw a non-XComError for input #${iteration}: ${text.slice(0, 500)}`, {
          cause: error,
        })
      }
      outcome = error.code
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
  }
  expect(prototypeSnapshot()).toBe(before)
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined()
  // the inputs reach every outcome, so the fuzz explores all paths
  expect([...outcomes.keys()].sort()).toStrictEqual(
    ['E_CORRUPT', 'E_NOT_ALLOWED', 'E_NOT_SERIALIZABLE', 'E_TOO_LARGE', 'decoded'].sort(),
  )
}, 120_000)
