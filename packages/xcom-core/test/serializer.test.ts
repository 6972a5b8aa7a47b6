import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { type CustomSerializer, createSerializer, SerializerRegistry } from '../src/serializer/index.ts'
import { Point, thrown } from './support.ts'

const registry = new SerializerRegistry()
const roundTrip = (value: unknown, r: SerializerRegistry = registry) => r.deserialize(r.serialize(value))

class Temperature {
  readonly celsius: number
  constructor(celsius: number) {
    this.celsius = celsius
  }
}

const temperature: CustomSerializer<Temperature> = {
  classname: 'weather.Temperature',
  version: 1,
  test: (value): value is Temperature => value instanceof Temperature,
  serialize: (value) => value.celsius,
  deserialize: (data) => new Temperature(data as number),
}

describe('JSON values', () => {
  it('are written exactly as JSON.stringify writes them', () => {
    const value = {
      a: 1,
      b: [true, false, null, 'x', 1.5, -3],
      c: { d: {} },
      e: [],
      'odd key': '\u2028\ud800',
    }
    expect(registry.serialize(value)).toBe(JSON.stringify(value))
    expect(roundTrip(value)).toStrictEqual(value)
  })

  it('are encoded without copying and decoded without copying or modifying the tree', () => {
    const value = { rows: [{ a: 1 }, { b: [2, 3] }] }
    expect(registry.encode(value)).toBe(value)
    const tree = JSON.parse(
      JSON.stringify({ ...value, when: { __classname__: 'js.BigInt', __version__: 1, __data__: '7' } }),
    )
    const before = structuredClone(tree)
    const decoded = registry.decode(tree) as { rows: unknown; when: unknown }
    expect(tree).toStrictEqual(before)
    expect(decoded.rows).toBe(tree.rows)
    expect(decoded.when).toBe(7n)
  })

  it('are reported plain by serializeText, and read back by JSON.parse alone when said so', () => {
    const value = { rows: [{ a: 1 }, { b: [2, 3] }], name: 'x' }
    expect(registry.serializeText(value)).toEqual({ text: JSON.stringify(value), plain: true })
    expect(registry.deserialize(JSON.stringify(value), { plain: true })).toStrictEqual(value)
    for (const primitive of ['', 0, true, null]) expect(registry.serializeText(primitive).plain).toBe(true)
    // Anything that needs an envelope, however deep, makes the text not plain.
    const special: unknown[] = [
      { deep: [{ at: new Date(0) }] },
      [1, undefined],
      { n: Number.NaN },
      { n: -0 },
      { big: 1n },
      { looksLikeAnEnvelope: { __classname__: 'x', __version__: 1, __data__: 1 } },
      new Map([[1, 2]]),
      undefined,
    ]
    for (const value of special) {
      const { text, plain } = registry.serializeText(value)
      expect(plain, text).toBe(false)
      expect(text).toBe(registry.serialize(value))
    }
    // plain: true only skips the decoding walk: envelopes then stay as they are (which is why it needs plain text).
    const envelope = registry.serialize({ big: 1n })
    expect(registry.deserialize(envelope, { plain: true })).toEqual(JSON.parse(envelope))
    expect(registry.deserialize(envelope, { plain: false })).toEqual({ big: 1n })
    thrown('E_CORRUPT', () => registry.deserialize('{', { plain: true }))
  })

  it('keep top-level primitives', () => {
    for (const value of ['', 'text', 0, 42, -1.25, true, false, null]) {
      expect(registry.serialize(value)).toBe(JSON.stringify(value))
      expect(roundTrip(value)).toBe(value)
    }
  })
})

describe('built-in types', () => {
  const envelope = (classname: string, version: number, data: unknown) =>
    JSON.stringify({ __classname__: classname, __version__: version, __data__: data })

  it.each([
    ['undefined', undefined, envelope('js.undefined', 1, null)],
    ['NaN', Number.NaN, envelope('js.Number', 1, 'NaN')],
    ['Infinity', Number.POSITIVE_INFINITY, envelope('js.Number', 1, 'Infinity')],
    ['-Infinity', Number.NEGATIVE_INFINITY, envelope('js.Number', 1, '-Infinity')],
    ['-0', -0, envelope('js.Number', 1, '-0')],
    ['bigint', -12345678901234567890n, envelope('js.BigInt', 1, '-12345678901234567890')],
    [
      'Date',
      new Date('2023-04-01T00:00:00.250Z'),
      envelope('datetime.datetime', 2, {
        timestamp: 1680307200.25,
        tz: {
          __classname__: 'builtins.tuple',
          __version__: 1,
          __data__: ['UTC', 'pendulum.tz.timezone.Timezone', 1, true],
        },
      }),
    ],
    ['invalid Date', new Date(Number.NaN), envelope('js.Date', 1, null)],
    ['Map', new Map<unknown, unknown>([[1, 'a']]), envelope('js.Map', 1, [[1, 'a']])],
    ['Set', new Set([1, 'a']), envelope('builtins.set', 1, [1, 'a'])],
    ['Buffer', Buffer.from('hi'), envelope('js.Buffer', 1, 'aGk=')],
    ['Uint8Array', new Uint8Array([1, 2, 3]), envelope('js.Uint8Array', 1, 'AQID')],
    ['Int16Array', new Int16Array([-1]), envelope('js.Int16Array', 1, '//8=')],
    ['ArrayBuffer', new Uint8Array([255]).buffer, envelope('js.ArrayBuffer', 1, '/w==')],
    ['DataView', new DataView(new Uint8Array([0, 1]).buffer), envelope('js.DataView', 1, 'AAE=')],
    ['RegExp', /a+b/giu, envelope('js.RegExp', 1, { source: 'a+b', flags: 'giu' })],
    ['URL', new URL('https://example.com/a?b=1#c'), envelope('js.URL', 1, 'https://example.com/a?b=1#c')],
    [
      'dict with __classname__',
      { __classname__: 'x', a: 1 },
      envelope('builtins.dict', 1, { __classname__: 'x', a: 1 }),
    ],
  ])('%s has a stable encoding and round-trips', (_name, value, text) => {
    expect(registry.serialize(value)).toBe(text)
    expect(registry.deserialize(text)).toStrictEqual(value)
  })

  it('round-trips undefined inside objects and arrays, and reads array holes as undefined', () => {
    const value = { a: undefined, b: [undefined, 1, undefined], c: { d: undefined } }
    const back = roundTrip(value) as typeof value
    expect(back).toStrictEqual(value)
    expect(Object.keys(back)).toStrictEqual(['a', 'b', 'c'])
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point of this test
    expect(roundTrip([1, , 3])).toStrictEqual([1, undefined, 3])
  })

  it('round-trips special numbers inside containers with Object.is precision', () => {
    const back = roundTrip([
      Number.NaN,
      -0,
      0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]) as number[]
    expect(back.map((n) => Object.is(n, -0))).toStrictEqual([false, true, false, false, false])
    expect(back).toStrictEqual([Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
  })

  it('round-trips every Date, using js.Date where seconds cannot hold the milliseconds exactly', () => {
    const inexact = 4413943962532564 // (ms / 1000) * 1000 rounds to a neighbour
    for (const ms of [
      0,
      -1,
      1,
      1700000000123,
      -62198755200000,
      8.64e15,
      -8.64e15,
      inexact,
      253402300799999,
    ]) {
      const date = new Date(ms)
      const back = roundTrip(date) as Date
      expect(back).toBeInstanceOf(Date)
      expect(back.getTime()).toBe(ms)
    }
    expect(registry.serialize(new Date(inexact))).toBe(
      `{"__classname__":"js.Date","__version__":1,"__data__":${inexact}}`,
    )
    expect(Number.isNaN((roundTrip(new Date(Number.NaN)) as Date).getTime())).toBe(true)
  })

  it('round-trips Maps with any keys and nested special values', () => {
    const objectKey = { id: 1 }
    const value = new Map<unknown, unknown>([
      [objectKey, new Set([1n, undefined])],
      [new Date(5), new Map([[Number.NaN, -0]])],
      [undefined, null],
      ['__proto__', { __proto__key: 1 }],
    ])
    const back = roundTrip(value) as Map<unknown, unknown>
    expect(back).toStrictEqual(value)
    expect([...back.keys()][0]).toStrictEqual(objectKey)
  })

  it('round-trips every typed array, including views into a larger buffer', () => {
    const source = new ArrayBuffer(64)
    new Uint8Array(source).forEach((_, i, bytes) => {
      bytes[i] = i * 7
    })
    const constructors = [
      Int8Array,
      Uint8Array,
      Uint8ClampedArray,
      Int16Array,
      Uint16Array,
      Int32Array,
      Uint32Array,
      Float32Array,
      Float64Array,
      BigInt64Array,
      BigUint64Array,
    ]
    for (const TypedArray of constructors) {
      const view = new TypedArray(source, 8, 2)
      const back = roundTrip(view) as ArrayBufferView
      expect(back).toStrictEqual(new TypedArray(source.slice(8, 8 + 2 * TypedArray.BYTES_PER_ELEMENT)))
      expect(back.byteOffset).toBe(0)
    }
    const Float16 = (globalThis as { Float16Array?: new (data: number[]) => ArrayBufferView }).Float16Array
    if (Float16) expect(roundTrip(new Float16({ length: 0 } as number[]))).toBeInstanceOf(Float16)
    const bytes = new Uint8Array([1, 2, 3, 4])
    expect(roundTrip(new DataView(bytes.buffer, 1, 2))).toStrictEqual(
      new DataView(new Uint8Array([2, 3]).buffer),
    )
    // large enough that a regular expression over the base64 text would overflow its backtracking stack
    const large = Buffer.alloc(16 * 1024 * 1024, 'xcom')
    const largeBack = roundTrip(new Uint8Array(large)) as Uint8Array
    expect(largeBack).toBeInstanceOf(Uint8Array)
    expect(Buffer.compare(largeBack, large)).toBe(0)
    const buffer = roundTrip(Buffer.from([9, 8])) as Buffer
    expect(Buffer.isBuffer(buffer)).toBe(true)
    expect([...buffer]).toStrictEqual([9, 8])
  })

  it('round-trips errors: built-in classes, custom names, stack, nested causes', () => {
    const cause = new RangeError('inner', { cause: { code: 42n } })
    const error = new TypeError('outer', { cause })
    const back = roundTrip(error) as TypeError
    expect(back).toBeInstanceOf(TypeError)
    expect(back.message).toBe('outer')
    expect(back.stack).toBe(error.stack)
    expect(back.cause).toBeInstanceOf(RangeError)
    expect((back.cause as Error).cause).toStrictEqual({ code: 42n })

    class QuotaError extends Error {
      override name = 'QuotaError'
    }
    const custom = roundTrip(new QuotaError('over quota')) as Error
    expect(custom).toBeInstanceOf(Error)
    expect(custom.name).toBe('QuotaError')
    expect(Object.keys(custom)).toStrictEqual([])

    const noStack = registry.deserialize(
      '{"__classname__":"js.Error","__version__":1,"__data__":{"name":"Error","message":"m"}}',
    ) as Error
    expect(noStack.stack).toBeUndefined()
    expect('cause' in noStack).toBe(false)
    const undefinedCause = roundTrip(new Error('m', { cause: undefined })) as Error
    expect('cause' in undefinedCause).toBe(true)
  })

  it('escapes user objects with a __classname__ key so they round-trip exactly, at any depth', () => {
    const value = {
      __classname__: 'datetime.datetime',
      __version__: 2,
      __data__: { timestamp: 1 },
      nested: [{ __classname__: 'js.BigInt', __version__: 1, __data__: '1', extra: new Date(0) }],
    }
    expect(roundTrip(value)).toStrictEqual(value)
    expect(roundTrip({ __classname__: { __classname__: 'a' } })).toStrictEqual({
      __classname__: { __classname__: 'a' },
    })
  })
})

describe('no prototype pollution, nothing evaluated', () => {
  it('keeps __proto__, constructor and prototype keys as plain data', () => {
    const value = JSON.parse(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "prototype": 1}',
    )
    const text = registry.serialize({ ...value, when: new Date(0) })
    const back = registry.deserialize(text) as Record<string, unknown>
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(Object.keys(back)).toStrictEqual(['__proto__', 'constructor', 'prototype', 'when'])
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toStrictEqual({ polluted: true })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('never sets a prototype while rewriting objects that hold __proto__ keys', () => {
    const texts = [
      '{"__proto__": {"__classname__": "js.BigInt", "__version__": 1, "__data__": "1"}}',
      '{"__classname__": "builtins.dict", "__version__": 1, "__data__": {"__proto__": {"polluted": 1}, "x": {"__classname__": "js.undefined", "__version__": 1, "__data__": null}}}',
      '[{"__proto__": [], "a": {"__classname__": "js.Number", "__version__": 1, "__data__": "NaN"}}]',
    ]
    for (const text of texts) {
      const visit = (value: unknown): void => {
        if (typeof value !== 'object' || value === null || value instanceof Map) return
        if (!Array.isArray(value)) expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
        for (const key of Object.keys(value)) visit((value as Record<string, unknown>)[key])
      }
      visit(registry.deserialize(text))
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('x')
  })

  it('walks only own keys even when Object.prototype has been polluted by someone else', () => {
    const polluted = Object.prototype as Record<string, unknown>
    polluted.injected = () => 'x'
    try {
      expect(registry.serialize({ a: 1 })).toBe('{"a":1}')
      expect(registry.deserialize('{"a":{"b":1}}')).toStrictEqual({ a: { b: 1 } })
      expect(registry.serialize({ a: undefined })).toContain('js.undefined')
    } finally {
      delete polluted.injected
    }
  })
})

describe('custom types', () => {
  it('round-trips classes and registered serializers, nested, with built-ins in their data', () => {
    const r = new SerializerRegistry().registerClass(Point).register(temperature)
    const value = { where: new Point(1, 2), temps: new Map([['noon', new Temperature(21.5)]]) }
    const text = r.serialize(value)
    expect(text).toContain('{"__classname__":"geo.Point","__version__":2,"__data__":{"x":1,"y":2}}')
    const back = r.deserialize(text) as typeof value
    expect(back.where).toBeInstanceOf(Point)
    expect(back.where).toStrictEqual(new Point(1, 2))
    expect(back.temps.get('noon')).toStrictEqual(new Temperature(21.5))
  })

  it('accepts classes with typed deserialize data and private constructors', () => {
    class Money {
      static readonly xcomClassname = 'shop.Money'
      static readonly xcomVersion = 1
      readonly cents: bigint
      readonly currency: string
      private constructor(cents: bigint, currency: string) {
        this.cents = cents
        this.currency = currency
      }
      static of(cents: bigint, currency: string): Money {
        return new Money(cents, currency)
      }
      serialize() {
        return { cents: this.cents, currency: this.currency }
      }
      static deserialize(data: { cents: bigint; currency: string }): Money {
        return new Money(data.cents, data.currency)
      }
    }
    const r = createSerializer({ allow: ['shop.*'] }).registerClass(Money)
    const back = r.deserialize(r.serialize([Money.of(1250n, 'EUR')])) as Money[]
    expect(back[0]).toBeInstanceOf(Money)
    expect(back[0]).toStrictEqual(Money.of(1250n, 'EUR'))
  })

  it('passes built-in values in custom data through both ways', () => {
    const seen: unknown[] = []
    const r = new SerializerRegistry().register<Temperature>({
      ...temperature,
      serialize: (t) => ({ at: new Date(7), celsius: BigInt(t.celsius) }),
      deserialize: (data) => {
        seen.push(data)
        return new Temperature(Number((data as { celsius: bigint }).celsius))
      },
    })
    expect(r.deserialize(r.serialize(new Temperature(3)))).toStrictEqual(new Temperature(3))
    expect(seen).toStrictEqual([{ at: new Date(7), celsius: 3n }])
  })

  it('gives older stored versions to deserialize and refuses newer ones', () => {
    const r = new SerializerRegistry().registerClass(Point)
    expect(
      r.deserialize('{"__classname__":"geo.Point","__version__":1,"__data__":{"x":1,"y":2}}'),
    ).toStrictEqual(new Point(2, 1))
    const error = thrown('E_NOT_SERIALIZABLE', () =>
      r.deserialize('{"a":[{"__classname__":"geo.Point","__version__":3,"__data__":{"x":1,"y":2}}]}'),
    )
    expect(error.message).toContain('version 3 of class "geo.Point"')
    expect(error.message).toContain('(2)')
    expect(error.path).toBe('value.a[0]')
    thrown('E_NOT_SERIALIZABLE', () =>
      registry.deserialize('{"__classname__":"builtins.tuple","__version__":2,"__data__":[]}'),
    )
  })

  it('refuses unknown class names on decode, naming the class and how to allow it', () => {
    const error = thrown('E_NOT_ALLOWED', () =>
      registry.deserialize('{"x":{"__classname__":"evil.Payload","__version__":1,"__data__":"rm -rf"}}'),
    )
    expect(error.message).toContain('"evil.Payload"')
    expect(error.message).toContain('register')
    expect(error.path).toBe('value.x')
  })

  it('allows exact names, globs and full-match RegExps only', () => {
    const text = (classname: string) => `{"__classname__":"${classname}","__version__":1,"__data__":1}`
    const names = [
      'shop.Money',
      'shop.cart.Item',
      'geo.Point',
      'geo.PointX',
      'billing.Invoice',
      'other.Thing',
    ]
    const r = new SerializerRegistry({ allow: ['billing.Invoice', 'shop.*', /geo\.Point/] })
    for (const classname of names) {
      r.register({
        classname,
        version: 1,
        test: (_v): _v is never => false,
        serialize: () => 0,
        deserialize: () => classname,
      })
    }
    const decodable = names.filter((classname) => {
      try {
        return r.deserialize(text(classname)) === classname
      } catch (error) {
        const failure = thrown('E_NOT_ALLOWED', () => {
          throw error
        })
        expect(failure.message).toContain(`"${classname}"`)
        expect(failure.message).toContain('allow')
        return false
      }
    })
    expect(decodable).toStrictEqual(['shop.Money', 'shop.cart.Item', 'geo.Point', 'billing.Invoice'])
    // built-in types are always allowed
    expect(r.deserialize(text('js.BigInt').replace('1}', '"1"}'))).toBe(1n)
    thrown('E_CONFIG', () => new SerializerRegistry({ allow: [''] }))
    thrown('E_CONFIG', () => new SerializerRegistry({ allow: [42 as unknown as string] }))
  })

  it('matches classes by exact prototype and reports unregistered subclasses', () => {
    class Point3 extends Point {}
    const r = new SerializerRegistry().registerClass(Point)
    const error = thrown('E_NOT_SERIALIZABLE', () => r.serialize({ p: [new Point3(1, 2)] }))
    expect(error.path).toBe('value.p[0]')
    expect(error.message).toContain('class Point3')
  })

  it('reports serializer errors with their cause, on both sides', () => {
    const boom = new Error('boom')
    const r = new SerializerRegistry().register<Temperature>({
      ...temperature,
      serialize: () => {
        throw boom
      },
    })
    const error = thrown('E_NOT_SERIALIZABLE', () => r.serialize({ t: new Temperature(1) }))
    expect(error.cause).toBe(boom)
    expect(error.path).toBe('value.t')
    const reader = new SerializerRegistry().register<Temperature>({
      ...temperature,
      deserialize: () => {
        throw boom
      },
    })
    const failure = thrown('E_CORRUPT', () =>
      reader.deserialize('[{"__classname__":"weather.Temperature","__version__":1,"__data__":1}]'),
    )
    expect(failure.cause).toBe(boom)
    expect(failure.path).toBe('value[0]')
  })

  it('rejects malformed registrations with E_CONFIG', () => {
    const r = new SerializerRegistry().register(temperature)
    thrown('E_CONFIG', () => r.register(temperature))
    thrown('E_CONFIG', () => r.register({ ...temperature, classname: 'datetime.datetime' }))
    thrown('E_CONFIG', () => r.register({ ...temperature, classname: 'js.Future' }))
    thrown('E_CONFIG', () => r.register({ ...temperature, classname: '' }))
    thrown('E_CONFIG', () => r.register({ ...temperature, classname: 'a.b', version: 1.5 }))
    thrown('E_CONFIG', () => r.register({ ...temperature, classname: 'a.c', test: undefined as never }))
    class NoStatic {
      serialize() {
        return 1
      }
    }
    thrown('E_CONFIG', () => r.registerClass(NoStatic as never))
    thrown('E_CONFIG', () => r.registerClass({} as never))
    r.registerClass(Point)
    thrown('E_CONFIG', () => r.registerClass(Point))
  })

  it('keeps registrations per instance: importing or creating registers nothing globally', () => {
    const withPoint = createSerializer().registerClass(Point)
    const text = withPoint.serialize(new Point(1, 2))
    thrown('E_NOT_ALLOWED', () => createSerializer().deserialize(text))
    thrown('E_NOT_SERIALIZABLE', () => new SerializerRegistry().serialize(new Point(1, 2)))
  })
})

describe('E_NOT_SERIALIZABLE names the path of the first bad field', () => {
  class Connection {}
  const circular: Record<string, unknown> = { a: { b: {} } }
  ;(circular.a as { b: Record<string, unknown> }).b.back = circular.a
  const selfMap = new Map<string, unknown>()
  selfMap.set('me', selfMap)

  it.each([
    ['a function', { rows: [1, 2, 3, { fn: () => 1 }] }, 'value.rows[3].fn', 'function'],
    ['a symbol', { s: Symbol('x') }, 'value.s', 'symbol'],
    ['a class instance', { conn: new Connection() }, 'value.conn', 'class Connection'],
    ['a WeakMap', [new WeakMap()], 'value[0]', 'WeakMap'],
    ['a Promise', { p: Promise.resolve(1) }, 'value.p', 'Promise'],
    ['an odd key', { 'a b': { 'c-d': () => 1 } }, 'value["a b"]["c-d"]', 'function'],
    ['a circular reference', circular, 'value.a.b.back', 'circular reference back to value.a'],
    ['a circular Map', { m: selfMap }, 'value.m.get("me")', 'circular'],
    ['a Map value', new Map([[1, { f: Math.max }]]), 'value.get(1).f', 'function'],
    ['a Map key', new Map([[() => 1, 1]]), 'value.keys()[0]', 'function'],
    ['a Set item', new Set([1, () => 1]), 'value.values()[1]', 'function'],
    ['an error cause', new Error('x', { cause: { f: () => 1 } }), 'value.cause.f', 'function'],
    ['a top-level function', () => 1, 'value', 'function'],
  ])('%s', (_name, value, path, reason) => {
    const before = registry.serialize(String(path))
    const error = thrown('E_NOT_SERIALIZABLE', () => registry.serialize(value))
    expect(error.path).toBe(path)
    expect(error.message).toContain(`Cannot serialize ${path}:`)
    expect(error.message).toContain(reason)
    expect(registry.serialize(String(path))).toBe(before)
  })

  it('reports a throwing getter at its path, with the error as cause', () => {
    const boom = new Error('no access')
    const value = {
      a: [
        {
          get secret() {
            throw boom
          },
        },
      ],
    }
    const error = thrown('E_NOT_SERIALIZABLE', () => registry.serialize(value))
    expect(error.path).toBe('value.a[0].secret')
    expect(error.cause).toBe(boom)
  })

  it('leaves the value untouched when encoding fails half-way', () => {
    const value = { a: new Date(0), b: [undefined, 1n], c: () => 1 }
    thrown('E_NOT_SERIALIZABLE', () => registry.serialize(value))
    expect(value.a).toBeInstanceOf(Date)
    expect(value.b).toStrictEqual([undefined, 1n])
  })

  it('finds the custom path through serialize() output', () => {
    const r = new SerializerRegistry().register<Temperature>({
      ...temperature,
      serialize: () => ({ f: () => 1 }),
    })
    expect(thrown('E_NOT_SERIALIZABLE', () => r.serialize([new Temperature(1)])).path).toBe(
      'value[0].serialize().f',
    )
  })
})

describe('limits', () => {
  const nest = (depth: number): unknown => (depth === 0 ? 1 : [nest(depth - 1)])
  const nestText = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`

  it('allows exactly maxDepth levels on encode and decode, and refuses one more with E_TOO_LARGE', () => {
    expect(roundTrip(nest(100))).toStrictEqual(nest(100))
    const error = thrown('E_TOO_LARGE', () => registry.serialize(nest(101)))
    expect(error.message).toContain('maxDepth (100)')
    expect(error.path).toBe(`value${'[0]'.repeat(100)}`)
    expect(registry.deserialize(nestText(100))).toStrictEqual(nest(100))
    thrown('E_TOO_LARGE', () => registry.deserialize(nestText(101)))
    thrown('E_TOO_LARGE', () => registry.deserialize(nestText(200_000)))
  })

  it('counts envelopes as one level, the same on both sides', () => {
    const r = new SerializerRegistry({ maxDepth: 3 })
    const value = new Map([[1, new Set([[1]])]])
    expect(roundTrip(value, r)).toStrictEqual(value)
    thrown('E_TOO_LARGE', () => r.serialize(new Map([[1, new Set([[[1]]])]])))
    const text = registry.serialize(new Map([[1, new Set([[[1]]])]]))
    thrown('E_TOO_LARGE', () => r.deserialize(text))
  })

  it('refuses text over maxSize on encode and decode, counting UTF-8 bytes', () => {
    const r = new SerializerRegistry({ maxSize: 12 })
    expect(r.serialize('0123456789')).toBe('"0123456789"')
    expect(thrown('E_TOO_LARGE', () => r.serialize('01234567890')).message).toContain('maxSize (12)')
    thrown('E_TOO_LARGE', () => r.serialize('€€€€'))
    expect(r.serialize('€€€')).toBe('"€€€"')
    thrown('E_TOO_LARGE', () => r.deserialize('"€€€€"'))
    thrown('E_TOO_LARGE', () => r.deserialize(`"${'x'.repeat(100)}"`))
    expect(r.deserialize('"€€€"')).toBe('€€€')
  })

  it('validates the options', () => {
    for (const options of [
      { maxDepth: 0 },
      { maxDepth: 1001 },
      { maxDepth: 1.5 },
      { maxSize: -1 },
      { maxSize: Number.NaN },
    ]) {
      thrown('E_CONFIG', () => new SerializerRegistry(options))
    }
    expect(new SerializerRegistry().maxDepth).toBe(100)
    expect(new SerializerRegistry().maxSize).toBe(512 * 1024 * 1024)
  })
})

describe('corrupt input', () => {
  it.each([
    ['not JSON', '{"a":', 'value'],
    ['not a string', 42 as unknown as string, 'value'],
    ['an envelope without version', '{"a":{"__classname__":"js.BigInt","__data__":"1"}}', 'value.a'],
    ['a string version', '{"__classname__":"js.BigInt","__version__":"1","__data__":"1"}', 'value'],
    ['a negative version', '{"__classname__":"js.BigInt","__version__":-1,"__data__":"1"}', 'value'],
    ['a non-string classname', '[{"__classname__":5,"__version__":1,"__data__":1}]', 'value[0]'],
    ['an extra key', '{"__classname__":"js.BigInt","__version__":1,"__data__":"1","x":1}', 'value'],
    ['a bad bigint', '{"__classname__":"js.BigInt","__version__":1,"__data__":"1.5"}', 'value'],
    ['bad base64', '{"__classname__":"js.Uint8Array","__version__":1,"__data__":"***"}', 'value'],
    ['non-canonical base64', '{"__classname__":"js.Buffer","__version__":1,"__data__":"AQJ="}', 'value'],
    ['a partial element', '{"__classname__":"js.Int32Array","__version__":1,"__data__":"AQID"}', 'value'],
    [
      'a bad map pair',
      '{"__classname__":"js.Map","__version__":1,"__data__":[[1,2],[3]]}',
      'value.__data__[1]',
    ],
    [
      'a bad regexp',
      '{"__classname__":"js.RegExp","__version__":1,"__data__":{"source":"(","flags":""}}',
      'value',
    ],
    ['a bad url', '{"__classname__":"js.URL","__version__":1,"__data__":"not a url"}', 'value'],
    [
      'a bad date',
      '{"__classname__":"datetime.datetime","__version__":2,"__data__":{"timestamp":1e300}}',
      'value',
    ],
    [
      'a bad nested value',
      '{"__classname__":"builtins.dict","__version__":1,"__data__":{"k":[{"__classname__":"js.Number","__version__":1,"__data__":"1"}]}}',
      'value.__data__.k[0]',
    ],
  ])('%s is E_CORRUPT at its JSON path', (_name, text, path) => {
    const error = thrown('E_CORRUPT', () => registry.deserialize(text))
    expect(error.path).toBe(path)
    expect(error.message).toContain(`Cannot deserialize ${path}`)
  })
})
