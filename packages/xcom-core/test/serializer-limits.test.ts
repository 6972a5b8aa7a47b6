import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import type { XComError, XComErrorCode } from '../src/errors.ts'
import { DEFAULT_MAX_SIZE, SerializerRegistry } from '../src/serializer/index.ts'
import { REGEXP_BUDGET, regexpCost } from '../src/serializer/regexp-cost.ts'
import { thrown } from './support.ts'

// Where a refusal happened (its path) shows how far the walk got: at the container itself, or at the item past the
// limit. That is the proof of stopping early; wall-clock times are for the benchmarks.

/** Runs `fn`, which must throw an XComError with `code`, and returns `{ error }`. */
function refused(code: XComErrorCode, fn: () => unknown): { error: XComError } {
  return { error: thrown(code, fn) }
}

describe('maxSize is enforced while encoding', () => {
  const small = new SerializerRegistry({ maxSize: 1000 })

  it('has a finite default, about the longest string V8 can hold', () => {
    expect(DEFAULT_MAX_SIZE).toBe(512 * 1024 * 1024)
    expect(new SerializerRegistry().maxSize).toBe(DEFAULT_MAX_SIZE)
  })

  it('refuses huge sparse arrays with E_TOO_LARGE before building their text', () => {
    const array = new Array(1e8)
    expect(refused('E_TOO_LARGE', () => small.serialize(array)).error.path).toBe('value')
    const { error } = refused('E_TOO_LARGE', () => small.serialize(new Array(2 ** 32 - 1)))
    expect(error.path).toBe('value')
    expect(error.message).toContain('maxSize (1000)')
    refused('E_TOO_LARGE', () => small.encode(array))
  })

  it('refuses them with the default limit too, instead of running out of memory', () => {
    const registry = new SerializerRegistry()
    const { error } = refused('E_TOO_LARGE', () => registry.serialize(new Array(1e8)))
    expect(error.message).toContain(`maxSize (${DEFAULT_MAX_SIZE})`)
    expect(error.path).toMatch(/^value\[\d+\]$/) // at the hole that passed the limit, not after all 1e8
    expect(refused('E_TOO_LARGE', () => registry.serialize(new Array(2 ** 32 - 1))).error.path).toBe('value')
  })

  it('refuses a huge string repeated in an array, or in an object, at the item that passes the limit', () => {
    const registry = new SerializerRegistry()
    const mebibytes = 'x'.repeat(2 ** 20)
    const array = refused('E_TOO_LARGE', () => registry.serialize(new Array(1024).fill(mebibytes)))
    expect(array.error.path).toBe('value[511]')
    const object = Object.fromEntries(Array.from({ length: 1024 }, (_, index) => [`k${index}`, mebibytes]))
    expect(refused('E_TOO_LARGE', () => registry.serialize({ object })).error.path).toMatch(
      /^value\.object\.k51\d$/,
    )
    const repeated = refused('E_TOO_LARGE', () => small.serialize(new Array(1e7).fill('abc')))
    expect(repeated.error.path).toBe('value') // its least size is counted before any item is walked
  })

  it('counts envelopes and binary data before building them', () => {
    refused('E_TOO_LARGE', () => small.serialize(Buffer.alloc(2 ** 28)))
    refused('E_TOO_LARGE', () =>
      small.serialize(new Map(Array.from({ length: 300 }, (_, index) => [index, index]))),
    )
    refused('E_TOO_LARGE', () => small.serialize(new Set(Array.from({ length: 600 }, (_, index) => index))))
    refused('E_TOO_LARGE', () => small.serialize(new Array(20).fill(new Date(0))))
    refused('E_TOO_LARGE', () => small.serialize(new Array(1e6).fill(1.5)))
    refused('E_TOO_LARGE', () => small.serialize([new Error('x'.repeat(1000))]))
  })

  it('still writes values just under the limit, whatever they hold', () => {
    for (const value of [
      new Array(15).fill(undefined),
      'x'.repeat(998),
      '€'.repeat(332),
      new Array(499).fill(1),
      new Array(90).fill(123456789),
      {
        a: [new Date(0), new Date(1.5), new Date(Number.NaN)],
        b: new Map([[1n, new Set([-0, Number.NaN])]]),
      },
      Buffer.alloc(600),
      [/a+b/giu, new URL('https://example.com/'), Object.assign(new Error('boom'), { stack: 'at x' })],
    ]) {
      const bytes = Buffer.byteLength(new SerializerRegistry().serialize(value))
      expect(bytes).toBeLessThanOrEqual(1000)
      const registry = new SerializerRegistry({ maxSize: bytes })
      expect(registry.deserialize(registry.serialize(value))).toStrictEqual(
        new SerializerRegistry().deserialize(new SerializerRegistry().serialize(value)),
      )
      refused('E_TOO_LARGE', () => new SerializerRegistry({ maxSize: bytes - 1 }).serialize(value))
    }
  })
})

describe('regular expressions are compiled within a budget', () => {
  const registry = new SerializerRegistry()
  const envelope = (source: string, flags: string) =>
    JSON.stringify({ __classname__: 'js.RegExp', __version__: 1, __data__: { source, flags } })

  it('weighs the constructs V8 compiles slowly', () => {
    expect(regexpCost('abc', 'g')).toBe(3)
    expect(regexpCost('\\p{L}', '')).toBe(5)
    expect(regexpCost('\\p{L}', 'u')).toBeGreaterThan(1000)
    expect(regexpCost('\\p{RGI_Emoji}', 'v')).toBeGreaterThan(10_000)
    expect(regexpCost('[a]\\w', 'iu')).toBeGreaterThan(regexpCost('[a]\\w', 'u') + 500)
    expect(regexpCost('\\\\p{L}', 'u')).toBe(6)
  })

  it('round-trips regular expressions within the budget, and the same pattern any number of times', () => {
    const patterns = [
      /^[\w.+-]+@[\w-]+\.[\w.-]+$/iu,
      /\p{Lu}\p{Ll}+/u,
      /(a|b)*c/gy,
      /x/dgimsy,
      /[\p{L}--[a-z]]/v,
    ]
    expect(registry.deserialize(registry.serialize(patterns))).toStrictEqual(patterns)
    const repeated = new Array(10_000).fill(/[^\S]\p{Lu}[\w.]+/iv)
    const back = registry.deserialize(registry.serialize(repeated)) as RegExp[]
    expect(back).toHaveLength(10_000)
    expect(back[9999]).toStrictEqual(repeated[0])
    expect(back[0]).not.toBe(back[1])
  })

  it('refuses more with E_TOO_LARGE, on both sides, explaining what to do instead', () => {
    const long = new RegExp('a'.repeat(REGEXP_BUDGET + 1))
    const { error } = refused('E_TOO_LARGE', () => registry.serialize({ rules: [long] }))
    expect(error.path).toBe('value.rules[0]')
    expect(error.message).toContain('Store long or complex patterns as source and flags strings')
    refused('E_TOO_LARGE', () => registry.deserialize(envelope(long.source, '')))
    const many = Array.from({ length: 20 }, (_, index) => new RegExp(`\\p{L}${index}`, 'u'))
    refused('E_TOO_LARGE', () => registry.serialize(many))
    expect(registry.deserialize(registry.serialize(many.slice(0, 10)))).toStrictEqual(many.slice(0, 10))
  })

  it('reports an invalid pattern as E_CORRUPT, not as a budget problem', () => {
    refused('E_CORRUPT', () => registry.deserialize(envelope('(', 'u')))
    refused('E_CORRUPT', () => registry.deserialize(envelope('a', 'uv')))
  })
})

describe('Maps and Sets whose keys collide in V8 hash tables', () => {
  const registry = new SerializerRegistry()
  const set = (items: unknown[]) =>
    JSON.stringify({ __classname__: 'builtins.set', __version__: 1, __data__: items })

  it('never refuses ordinary number and bigint keys', () => {
    const count = 50_000
    const shapes: ((index: number) => unknown)[] = [
      (index) => index,
      (index) => -index * 1024,
      (index) => index * 65_536,
      (index) => index / 10,
      (index) => 1.7e12 + index * 1000,
      (index) => Math.fround(index / 7),
      (index) => BigInt(index),
      (index) => BigInt(index) << 32n,
      (index) => 10n ** 30n + BigInt(index),
      (index) => 2 ** (index % 1000),
    ]
    for (const shape of shapes) {
      const items = Array.from({ length: count }, (_, index) => shape(index))
      expect(registry.deserialize(registry.serialize(new Set(items)))).toStrictEqual(new Set(items))
      const map = new Map(items.map((item, index) => [item, index]))
      expect(registry.deserialize(registry.serialize(map))).toStrictEqual(map)
    }
    // Repeats share a bucket but cost V8 nothing: only the distinct keys count.
    expect(registry.deserialize(set(new Array(count).fill(1)))).toStrictEqual(new Set([1]))
  })

  it('refuses bigint keys that differ only above 64 bits, which V8 does not hash, as E_CORRUPT', () => {
    const items = Array.from({ length: 5000 }, (_, index) => ({
      __classname__: 'js.BigInt',
      __version__: 1,
      __data__: String((BigInt(index + 1) << 64n) + 7n),
    }))
    const { error } = refused('E_CORRUPT', () => registry.deserialize(set(items)))
    expect(error.message).toContain('collide')
    // a few such keys cost nothing and are read as they are
    expect((registry.deserialize(set(items.slice(0, 100))) as Set<bigint>).size).toBe(100)
  })
})
