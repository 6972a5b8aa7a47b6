import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { XComError } from '../src/errors.ts'
import { BUILTIN_DECODERS } from '../src/serializer/builtins.ts'
import { SerializerRegistry } from '../src/serializer/index.ts'

// Every built-in decoder, fed the worst ~100 kB inputs we know, must finish (or refuse) within FACTOR times the
// time to read a plain JSON string of the same size, measured here (never less than FLOOR_MS): a ratio, so a slow
// machine does not fail it, while a quadratic decoder (seconds at this size) does.
const SIZE = 100_000
const FACTOR = 50
const FLOOR_MS = 50
const MAX_DEPTH = 1000
const registry = new SerializerRegistry({ maxDepth: MAX_DEPTH })

type Envelope = { __classname__: string; __version__: number; __data__: unknown }
const env = (classname: string, data: unknown, version = 1): Envelope => ({
  __classname__: classname,
  __version__: version,
  __data__: data,
})
const versionOf = (classname: string) => BUILTIN_DECODERS.get(classname)!.version

/** Items from `make(index)` until their JSON holds about SIZE bytes. */
function fill<T>(make: (index: number) => T, size = SIZE): T[] {
  const items: T[] = []
  for (let bytes = 0; bytes < size; ) {
    const item = make(items.length)
    bytes += JSON.stringify(item).length + 1
    items.push(item)
  }
  return items
}

/** `[[[...value...]]]` built by `wrap`, `depth` containers deep. */
function nest(depth: number, wrap: (inner: unknown) => unknown, inner: unknown = 1): unknown {
  let value = inner
  for (let level = 0; level < depth; level++) value = wrap(value)
  return value
}

const digits = '1'.repeat(SIZE)
const half = '1'.repeat(SIZE / 2)
const third = '1'.repeat(SIZE / 3)
/** Numeric strings that once made the number pattern backtrack for seconds before refusing them. */
const badNumbers: [what: string, text: string][] = [
  ['digits then x', `${digits}x`],
  ['digits.digits then x', `${half}.${half}x`],
  ['digits e digits then x', `${half}e${half}x`],
  ['.digits then x', `.${digits}x`],
  ['-digits.digits e-digits then x', `-${third}.${third}e-${third}x`],
  ['plus signs', '+'.repeat(SIZE)],
  ['dots', '.'.repeat(SIZE)],
]

// V8 hashes numbers and bigints in Maps and Sets without a seed: these keys are crafted to share one bucket, by
// running V8's hash functions backwards (each step is invertible).
const MASK32 = 0xffffffffn
const MASK64 = (1n << 64n) - 1n
function unshift(value: bigint, shift: bigint, bits: bigint): bigint {
  const mask = (1n << bits) - 1n
  let result = value
  for (let done = 0n; done < bits; done += shift) result = value ^ (result >> shift)
  return result & mask
}
function inverse(odd: bigint, bits: bigint): bigint {
  const mask = (1n << bits) - 1n
  let result = 1n
  for (let round = 0; round < 7; round++) result = (result * (2n - odd * result)) & mask
  return result
}
/** An int32 whose V8 hash (ComputeUnseededHash) is `hash`, by undoing each step of it. */
function int32WithHash(hash: bigint): number {
  let value = unshift(hash, 16n, 32n)
  value = (value * inverse(2057n, 32n)) & MASK32
  value = unshift(value, 4n, 32n)
  value = (value * inverse(5n, 32n)) & MASK32
  value = unshift(value, 12n, 32n)
  value = ((value + 1n) * inverse((1n << 15n) - 1n, 32n)) & MASK32
  return Number(BigInt.asIntN(32, value))
}
/** The 64 bits whose V8 hash (ComputeLongHash) ends in `state`. */
function bitsWithHash(state: bigint): bigint {
  let value = unshift(state, 22n, 64n)
  value = (value * inverse(65n, 64n)) & MASK64
  value = unshift(value, 11n, 64n)
  value = (value * inverse(21n, 64n)) & MASK64
  value = unshift(value, 31n, 64n)
  return ((value + 1n) * inverse((1n << 18n) - 1n, 64n)) & MASK64
}
// The two high bits are dropped from the hash, and buckets are picked by its low bits: vary only the bits between.
const collidingInt32s = fill((index) =>
  int32WithHash((BigInt(index & 3) << 30n) | (BigInt(index >> 2) << 18n)),
)
const view = new DataView(new ArrayBuffer(8))
// Hashes ending in 20 zero bits; integral doubles are skipped, as V8 hashes those in int32 range differently.
const collidingDoubles = fill((index) => {
  for (let attempt = BigInt(index) * 64n; ; attempt++) {
    view.setBigUint64(0, bitsWithHash(((attempt * 0x9e3779b97f4a7c15n) & ((1n << 44n) - 1n)) << 20n))
    const value = view.getFloat64(0)
    if (Number.isFinite(value) && !Number.isInteger(value)) return value
  }
})
// V8 hashes only a bigint's lowest 64 bits.
const collidingBigInts = fill((index) => env('js.BigInt', String((BigInt(index + 1) << 64n) + 7n)))

const mapOf = (keys: unknown[]) =>
  env(
    'js.Map',
    fill((index) => [keys[index], 0]),
  )
const setOf = (classname: string, items: unknown[]) => env(classname, items)
const regexp = (source: string, flags: string) => env('js.RegExp', { source, flags })

/** Worst inputs per class name: [classname, what, value]. */
const cases: [string, string, unknown][] = [
  ['js.undefined', 'many', fill(() => env('js.undefined', null))],
  ['js.undefined', 'a long string', env('js.undefined', 'x'.repeat(SIZE))],
  ['js.Number', 'many', fill(() => env('js.Number', '-Infinity'))],
  ['js.Number', 'a long non-number', env('js.Number', '-'.repeat(SIZE))],
  ['js.BigInt', 'a 100,000-digit bigint', env('js.BigInt', '9'.repeat(SIZE))],
  ['js.BigInt', 'digits then a bad character', env('js.BigInt', `${digits}x`)],
  ['js.BigInt', 'many', fill((index) => env('js.BigInt', `-${index}`))],
  ['js.Date', 'many', fill((index) => env('js.Date', index))],
  ['js.Date', 'a long numeric string', env('js.Date', digits)],
  ['js.Map', 'int32 keys crafted to collide', mapOf(collidingInt32s)],
  ['js.Map', 'double keys crafted to collide', mapOf(collidingDoubles)],
  ['js.Map', 'bigint keys crafted to collide', mapOf(collidingBigInts)],
  ['js.Map', 'many string keys', mapOf(fill((index) => `key${index}`))],
  ['js.Map', 'nested to the depth bound', nest(MAX_DEPTH - 1, (inner) => env('js.Map', [[1, inner]]))],
  ['js.Map', 'a bad pair after many', env('js.Map', [...fill((index) => [index, index]), [1]])],
  ['js.RegExp', '\\p{L} escapes', regexp('\\p{L}'.repeat(SIZE / 6), 'u')],
  ['js.RegExp', '\\w in one class, iu', regexp(`[${'\\w'.repeat(SIZE / 3)}]`, 'iu')],
  ['js.RegExp', 'negated classes, iv', regexp('[^\\S]'.repeat(SIZE / 6), 'iv')],
  ['js.RegExp', 'wide ranges, iv', regexp('[ſ-\\u{10ffff}]'.repeat(SIZE / 15), 'iv')],
  ['js.RegExp', 'emoji sequences', regexp('\\p{RGI_Emoji}'.repeat(SIZE / 14), 'v')],
  ['js.RegExp', 'plain atoms', regexp('.'.repeat(SIZE), '')],
  ['js.RegExp', 'groups filling the budget', regexp('(a)'.repeat(5000), 'u')],
  ['js.RegExp', 'an emoji sequence property', regexp('\\p{RGI_Emoji}', 'v')],
  ['js.RegExp', 'negated properties filling the budget, iv', regexp('[^\\p{Lu}]'.repeat(10), 'iv')],
  ['js.RegExp', '\\w in one class filling the budget, iu', regexp(`[${'\\w'.repeat(240)}]`, 'iu')],
  ['js.RegExp', 'distinct patterns past the budget', fill((index) => regexp(`\\p{L}${index}`, 'u'))],
  ['js.RegExp', 'one costly pattern repeated', fill(() => regexp('[^\\S][^\\W]\\p{Lu}', 'iv'))],
  ['js.URL', 'dot segments', env('js.URL', `http://a/${'../'.repeat(SIZE / 3)}`)],
  ['js.URL', 'a long punycode host', env('js.URL', `http://xn--${'a'.repeat(SIZE)}/`)],
  ['js.URL', 'many host labels', env('js.URL', `http://${'a.'.repeat(SIZE / 2)}/`)],
  ['js.URL', 'percent escapes', env('js.URL', `http://a/?${'%zz'.repeat(SIZE / 3)}`)],
  ['js.URL', 'not a URL', env('js.URL', 'x'.repeat(SIZE))],
  [
    'js.Error',
    'causes nested to the depth bound',
    nest(MAX_DEPTH - 1, (cause) => env('js.Error', { name: 'E', message: 'm', cause })),
  ],
  ['js.Error', 'many', fill(() => env('js.Error', { name: 'TypeError', message: 'm', stack: 's' }))],
  ['js.Error', 'a long message', env('js.Error', { name: 'Error', message: 'x'.repeat(SIZE) })],
  [
    'builtins.dict',
    'nested to the depth bound',
    nest(MAX_DEPTH - 1, (inner) => env('builtins.dict', { k: inner })),
  ],
  [
    'builtins.dict',
    'many keys',
    env('builtins.dict', Object.fromEntries(fill((index) => [`k${index}`, env('js.undefined', null)]))),
  ],
  [
    'builtins.tuple',
    'nested to the depth bound',
    nest(MAX_DEPTH - 1, (inner) => env('builtins.tuple', [inner])),
  ],
  [
    'builtins.tuple',
    'many items',
    env(
      'builtins.tuple',
      fill((index) => index),
    ),
  ],
]
for (const classname of ['builtins.set', 'builtins.frozenset']) {
  cases.push(
    [classname, 'int32 items crafted to collide', setOf(classname, collidingInt32s)],
    [classname, 'double items crafted to collide', setOf(classname, collidingDoubles)],
    [classname, 'bigint items crafted to collide', setOf(classname, collidingBigInts)],
    [classname, 'nested to the depth bound', nest(MAX_DEPTH - 1, (inner) => env(classname, [inner]))],
    [
      classname,
      'many strings',
      setOf(
        classname,
        fill((index) => `item${index}`),
      ),
    ],
  )
}
for (const classname of ['datetime.datetime', 'pendulum.datetime.DateTime']) {
  for (const [what, text] of badNumbers) {
    cases.push([classname, `timestamp ${what}`, env(classname, { timestamp: text }, 2)])
  }
  cases.push([classname, 'a legacy bare timestamp', env(classname, `${digits}x`, 2)])
  cases.push([classname, 'many', fill((index) => env(classname, { timestamp: index / 7 }, 2))])
}
for (const [what, text] of badNumbers)
  cases.push(['datetime.timedelta', what, env('datetime.timedelta', text, 2)])
cases.push(['datetime.timedelta', 'many', fill((index) => env('datetime.timedelta', `${index}.5`, 2))])
for (const classname of ['datetime.date', 'pendulum.date.Date', 'decimal.Decimal', 'uuid.UUID']) {
  const version = versionOf(classname)
  cases.push([classname, 'a long string', env(classname, digits, version)])
  cases.push([classname, 'many', fill((index) => env(classname, `2024-01-${index}`, version))])
}
for (const [classname] of BUILTIN_DECODERS) {
  if (!classname.startsWith('js.') || cases.some(([name]) => name === classname)) continue
  // Typed arrays and binary types: canonical base64, non-canonical, invalid.
  cases.push(
    [classname, 'long base64', env(classname, 'A'.repeat(SIZE))],
    [classname, 'non-canonical base64', env(classname, `${'A'.repeat(SIZE - 4)}AR==`)],
    [classname, 'invalid base64', env(classname, '*'.repeat(SIZE))],
  )
}

/** The shortest of `rounds` runs, so a busy machine's pauses do not count; a clear failure is not repeated. */
function fastest(run: (round: number) => void, limit: number, rounds = 5): number {
  let best = Number.POSITIVE_INFINITY
  for (let round = 0; round < rounds; round++) {
    const start = performance.now()
    run(round)
    best = Math.min(best, performance.now() - start)
    if (best > limit * 10) break
  }
  return best
}

/** The text for one round: each round's patterns are new to V8, whose cache would otherwise skip compiling them. */
function salted(text: string, round: number): string {
  return text.replaceAll('"source":"', `"source":"R${round}`)
}

/** Reads `text`; returns `ok` or the XComError code. Anything but an XComError fails the test. */
function outcome(text: string): string {
  try {
    registry.deserialize(text)
    return 'ok'
  } catch (error) {
    if (!XComError.is(error)) throw error
    return error.code
  }
}

describe('every built-in decoder runs in time linear in its input', () => {
  let limit = FLOOR_MS
  let baseline = 0
  const measured: { name: string; ms: number; result: string }[] = []

  beforeAll(() => {
    const text = JSON.stringify('a'.repeat(SIZE))
    baseline = fastest(() => registry.deserialize(text), Number.POSITIVE_INFINITY, 20)
    limit = Math.max(FLOOR_MS, FACTOR * baseline)
  })

  afterAll(() => {
    if (process.env.XCOM_BENCH_VERBOSE === undefined) return
    console.log(
      `baseline ${baseline.toFixed(3)} ms for a ${SIZE}-character string; limit ${limit.toFixed(1)} ms`,
    )
    for (const { name, ms, result } of measured.sort((a, b) => b.ms - a.ms)) {
      console.log(
        `${ms.toFixed(2).padStart(9)} ms ${(ms / baseline).toFixed(0).padStart(6)}x ${result.padEnd(12)} ${name}`,
      )
    }
  })

  it('covers every built-in class name', () => {
    const covered = new Set(cases.map(([classname]) => classname))
    expect([...BUILTIN_DECODERS.keys()].filter((classname) => !covered.has(classname))).toEqual([])
  })

  it.each(cases)('%s: %s', (classname, what, value) => {
    // Inputs bounded by depth or budget rather than size are padded, so each case is compared at SIZE.
    let text = JSON.stringify(value)
    if (text.length < SIZE) text = JSON.stringify([value, 'x'.repeat(SIZE - text.length)])
    expect(text.length).toBeLessThan(SIZE * 1.2)
    const texts = [0, 1, 2, 3, 4].map((round) => salted(text, round))
    let result = ''
    const ms = fastest((round) => {
      result = outcome(texts[round]!)
    }, limit)
    measured.push({ name: `${classname}: ${what}`, ms, result })
    expect(
      ms,
      `${classname}: ${what} took ${ms.toFixed(1)} ms (${result}), limit ${limit.toFixed(1)} ms`,
    ).toBeLessThan(limit)
  })
})
