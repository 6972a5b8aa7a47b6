import { Buffer } from 'node:buffer'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SerializerRegistry } from '../src/serializer/index.ts'
import { DANGEROUS_KEYS } from './support.ts'

/** A registered class holding any two values (serialized as a pair), so generated values nest inside it. */
class Point {
  static readonly xcomClassname = 'geo.Point'
  static readonly xcomVersion = 1
  readonly pair: readonly [unknown, unknown]
  constructor(...pair: [unknown, unknown]) {
    this.pair = pair
  }
  serialize() {
    return this.pair
  }
  static deserialize(data: unknown): Point {
    return new Point(...(data as [unknown, unknown]))
  }
}

const registry = new SerializerRegistry().registerClass(Point)

/** Keys that are dangerous or reserved elsewhere, mixed with random ones. */
const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...DANGEROUS_KEYS, 'toJSON', ''))

const typedArray = fc.oneof(
  fc.int8Array({ maxLength: 6 }),
  fc.uint8Array({ maxLength: 6 }),
  fc.uint8ClampedArray({ maxLength: 6 }),
  fc.int16Array({ maxLength: 6 }),
  fc.uint16Array({ maxLength: 6 }),
  fc.int32Array({ maxLength: 6 }),
  fc.uint32Array({ maxLength: 6 }),
  fc.float32Array({ maxLength: 6 }),
  fc.float64Array({ maxLength: 6 }),
  fc.bigInt64Array({ maxLength: 4 }),
  fc.bigUint64Array({ maxLength: 4 }),
)

const binary = fc.oneof(
  typedArray,
  fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => bytes.buffer),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => new DataView(bytes.buffer)),
)

const regexp = fc
  .tuple(fc.string({ maxLength: 6 }), fc.subarray(['d', 'g', 'i', 'm', 's', 'u', 'y']))
  .map(([text, flags]) => new RegExp(text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), flags.join('')))

const leaf = fc.oneof(
  fc.string(),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constantFrom(null, undefined, Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  binary,
  regexp,
  fc.webUrl().map((url) => new URL(url)),
)

const { value } = fc.letrec<{
  value: unknown
  array: unknown[]
  object: Record<string, unknown>
  map: Map<unknown, unknown>
  set: Set<unknown>
  error: Error
  point: Point
}>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
    tie('error'),
    tie('point'),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }),
  // fromEntries defines own properties: "__proto__" stays a key, as JSON.parse makes it
  object: fc
    .array(fc.tuple(key, tie('value')), { maxLength: 5 })
    .map((entries) => Object.fromEntries(entries)),
  map: fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  set: fc.array(tie('value'), { maxLength: 4 }).map((items) => new Set(items)),
  error: fc
    .record({
      Type: fc.constantFrom(Error, TypeError, RangeError, SyntaxError),
      name: fc.option(fc.constantFrom('QuotaError', 'AbortError')),
      message: fc.string(),
      cause: fc.option(tie('value'), { nil: undefined }),
      hasCause: fc.boolean(),
    })
    .map(({ Type, name, message, cause, hasCause }) => {
      const error = hasCause ? new Type(message, { cause }) : new Type(message)
      if (Type === Error && name !== null) {
        Object.defineProperty(error, 'name', { value: name, writable: true, configurable: true })
      }
      return error
    }),
  point: fc.tuple(tie('value'), tie('value')).map(([x, y]) => new Point(x, y)),
}))

/**
 * Deep equality as this serializer promises it: Object.is for primitives, same prototypes, same own keys in the
 * same order (so "constructor" or "__proto__" keys are compared as data), same Map and Set order, same bytes.
 * Returns where the first difference is, or '' when equal.
 */
function difference(a: unknown, b: unknown, path = 'value'): string {
  if (Object.is(a, b)) return ''
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    return `${path}: ${String(a)} vs ${String(b)}`
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: different prototypes`
  const bytes = (v: unknown) => [
    ...new Uint8Array(
      ArrayBuffer.isView(v) ? v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) : (v as ArrayBuffer),
    ),
  ]
  if (a instanceof Date)
    return Object.is(a.getTime(), (b as Date).getTime()) ? '' : `${path}: different dates`
  if (a instanceof RegExp || a instanceof URL)
    return String(a) === String(b) ? '' : `${path}: ${String(a)} vs ${String(b)}`
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer)
    return difference(bytes(a), bytes(b), `${path}<bytes>`)
  if (a instanceof Map || a instanceof Set) {
    return difference([...a.entries()], [...(b as Map<unknown, unknown>).entries()], `${path}<entries>`)
  }
  if (a instanceof Error) {
    const e = b as Error
    for (const field of ['name', 'message', 'stack'] as const) {
      if (a[field] !== e[field]) return `${path}.${field}: ${a[field]} vs ${e[field]}`
    }
    if (Object.hasOwn(a, 'cause') !== Object.hasOwn(e, 'cause')) return `${path}.cause: present in one only`
    return difference(a.cause, e.cause, `${path}.cause`)
  }
  const keysA = Object.keys(a)
  const keysB = Object.keys(b)
  if (keysA.join('\u0000') !== keysB.join('\u0000') || keysA.length !== keysB.length) {
    return `${path}: keys ${JSON.stringify(keysA)} vs ${JSON.stringify(keysB)}`
  }
  if (Array.isArray(a) && a.length !== (b as unknown[]).length) return `${path}: lengths differ`
  for (const key of keysA) {
    const found = difference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${path}[${JSON.stringify(key)}]`,
    )
    if (found !== '') return found
  }
  return ''
}

function hasNegativeZero(value: unknown): boolean {
  if (Object.is(value, -0)) return true
  return typeof value === 'object' && value !== null && Object.values(value).some(hasNegativeZero)
}

describe('property: every supported value round-trips', () => {
  it('deserialize(serialize(v)) equals v, with Object.is precision, for random nested values', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(difference(registry.deserialize(registry.serialize(v)), v)).toBe('')
      }),
      { numRuns: 400 },
    )
  })

  it('serializeText says plain exactly when the text holds no envelope, and plain text reads back by JSON.parse', () => {
    fc.assert(
      fc.property(value, (v) => {
        const { text, plain } = registry.serializeText(v)
        expect(text).toBe(registry.serialize(v))
        expect(plain).toBe(!text.includes('"__classname__"'))
        if (plain) expect(difference(registry.deserialize(text, { plain: true }), v)).toBe('')
      }),
      { numRuns: 400 },
    )
  })

  it('decode(encode(v)) equals v, and neither call modifies its input', () => {
    fc.assert(
      fc.property(value, (v) => {
        const text = registry.serialize(v)
        const tree = registry.encode(v)
        expect(registry.serialize(v)).toBe(text)
        const parsed = JSON.parse(text)
        const pristine = JSON.parse(text)
        expect(difference(registry.decode(parsed), v)).toBe('')
        expect(difference(parsed, pristine)).toBe('')
        expect(difference(registry.decode(tree), v)).toBe('')
      }),
      { numRuns: 200 },
    )
  })

  it('writes JSON values exactly as JSON.stringify does', () => {
    fc.assert(
      // -0 is the one JSON number JSON.stringify cannot keep: this serializer writes an envelope for it
      fc.property(
        fc.jsonValue().filter((v) => !hasNegativeZero(v)),
        (v) => {
          const text = registry.serialize(v)
          expect(text).toBe(JSON.stringify(v))
          expect(difference(registry.deserialize(text), v)).toBe('')
        },
      ),
      { numRuns: 300 },
    )
  })

  it('writes a value whose text is exactly maxSize bytes, and refuses it with E_TOO_LARGE at one byte less', () => {
    // Encoding counts a lower bound of the size as it goes: it must never refuse a value that fits.
    fc.assert(
      fc.property(value, (v) => {
        const text = registry.serialize(v)
        const bytes = Buffer.byteLength(text)
        expect(new SerializerRegistry({ maxSize: bytes }).registerClass(Point).serialize(v)).toBe(text)
        if (bytes === 1) return
        const smaller = new SerializerRegistry({ maxSize: bytes - 1 }).registerClass(Point)
        expect(() => smaller.serialize(v)).toThrow(expect.objectContaining({ code: 'E_TOO_LARGE' }))
      }),
      { numRuns: 400 },
    )
  })

  it('round-trips objects built only from reserved and dangerous keys', () => {
    const nested = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        fc.array(fc.tuple(key, tie('node')), { maxLength: 4 }).map((entries) => Object.fromEntries(entries)),
      ),
    })).node
    fc.assert(
      fc.property(nested, (v) => {
        const back = registry.deserialize(registry.serialize(v))
        expect(difference(back, v)).toBe('')
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      }),
      { numRuns: 300 },
    )
  })
})
