// Values as Airflow's serde (Python) writes them into XCom JSON: Python tasks push these, TypeScript tasks read them.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { XComError } from '../src/errors.ts'
import { SerializerRegistry } from '../src/serializer/index.ts'

const registry = new SerializerRegistry()

/** Python's `json.dumps` separators: ", " and ": ". */
const tuple = (items: string) =>
  `{"__classname__": "builtins.tuple", "__version__": 1, "__data__": [${items}]}`
const timezone = (name: string, kind: string) => tuple(`${name}, "pendulum.tz.timezone.${kind}", 1, true`)
const datetime = (classname: string, timestamp: string, tz: string, version = 2) =>
  `{"__classname__": "${classname}", "__version__": ${version}, "__data__": {"timestamp": ${timestamp}, "tz": ${tz}}}`

describe('Airflow serde values decode to their natural JS counterparts', () => {
  it.each([
    ['tuple -> array', tuple('1, "a", null, [2]'), [1, 'a', null, [2]]],
    [
      'set -> Set',
      '{"__classname__": "builtins.set", "__version__": 1, "__data__": [1, 2]}',
      new Set([1, 2]),
    ],
    [
      'frozenset -> Set',
      '{"__classname__": "builtins.frozenset", "__version__": 1, "__data__": ["a"]}',
      new Set(['a']),
    ],
    [
      'dict -> object',
      '{"__classname__": "builtins.dict", "__version__": 1, "__data__": {"a": [1]}}',
      { a: [1] },
    ],
    [
      'datetime in UTC (pendulum 2)',
      datetime('datetime.datetime', '1680307200.0', timezone('"UTC"', 'FixedTimezone')),
      new Date('2023-04-01T00:00:00Z'),
    ],
    [
      'pendulum DateTime in Europe/London',
      datetime('pendulum.datetime.DateTime', '1680303600.0', timezone('"Europe/London"', 'Timezone')),
      new Date('2023-03-31T23:00:00Z'),
    ],
    [
      'datetime with a fixed offset',
      datetime('datetime.datetime', '1680310800.0', timezone('-3600', 'FixedTimezone')),
      new Date('2023-04-01T01:00:00Z'),
    ],
    [
      'naive datetime, microseconds rounded',
      datetime('datetime.datetime', '1680307200.123456', 'null'),
      new Date(1680307200123),
    ],
    [
      'datetime version 1 (tz name)',
      datetime('datetime.datetime', '1680307200.5', '"EDT"', 1),
      new Date(1680307200500),
    ],
    [
      'datetime as a bare timestamp (legacy)',
      '{"__classname__": "datetime.datetime", "__version__": 2, "__data__": 1680307200.25}',
      new Date(1680307200250),
    ],
    [
      'date -> ISO date string',
      '{"__classname__": "datetime.date", "__version__": 2, "__data__": "2023-04-01"}',
      '2023-04-01',
    ],
    [
      'pendulum Date -> ISO date string',
      '{"__classname__": "pendulum.date.Date", "__version__": 2, "__data__": "0999-12-31"}',
      '0999-12-31',
    ],
    [
      'timedelta -> milliseconds',
      '{"__classname__": "datetime.timedelta", "__version__": 2, "__data__": 90061.000001}',
      90061000.001,
    ],
    [
      'timedelta of 1.1 s',
      '{"__classname__": "datetime.timedelta", "__version__": 2, "__data__": 1.1}',
      1100,
    ],
    [
      'negative timedelta',
      '{"__classname__": "datetime.timedelta", "__version__": 2, "__data__": -0.5}',
      -500,
    ],
    [
      'integral Decimal -> string',
      '{"__classname__": "decimal.Decimal", "__version__": 1, "__data__": 12}',
      '12',
    ],
    [
      'fractional Decimal (float) -> string',
      '{"__classname__": "decimal.Decimal", "__version__": 1, "__data__": 12.5}',
      '12.5',
    ],
    [
      'fractional Decimal (str) -> string',
      '{"__classname__": "decimal.Decimal", "__version__": 1, "__data__": "12.50"}',
      '12.50',
    ],
    [
      'UUID -> string',
      '{"__classname__": "uuid.UUID", "__version__": 1, "__data__": "6fa459ea-ee8a-3ca4-894e-db77e160355e"}',
      '6fa459ea-ee8a-3ca4-894e-db77e160355e',
    ],
  ])('%s', (_name, text, expected) => {
    expect(registry.deserialize(text)).toStrictEqual(expected)
  })

  it('decodes a realistic nested Python XCom', () => {
    const text = `{"rows": [${tuple(`1, ${datetime('datetime.datetime', '0.0', 'null')}`)}], "ids": {"__classname__": "builtins.set", "__version__": 1, "__data__": [{"__classname__": "uuid.UUID", "__version__": 1, "__data__": "a8098c1a-f86e-11da-bd1a-00112444be1e"}]}, "total": {"__classname__": "decimal.Decimal", "__version__": 1, "__data__": 10.5}, "nan": NaN}`
    // Python writes NaN as a bare token, which is not JSON: reported as corrupt, never misread.
    expect(() => registry.deserialize(text)).toThrow(XComError)
    expect(registry.deserialize(text.replace(', "nan": NaN', ''))).toStrictEqual({
      rows: [[1, new Date(0)]],
      ids: new Set(['a8098c1a-f86e-11da-bd1a-00112444be1e']),
      total: '10.5',
    })
  })

  it('writes Dates in the shape Airflow reads (datetime.datetime version 2, UTC)', () => {
    const written = JSON.parse(registry.serialize(new Date('2023-04-01T00:00:00Z')))
    const python = JSON.parse(datetime('datetime.datetime', '1680307200.0', timezone('"UTC"', 'Timezone')))
    expect(written).toStrictEqual(python)
    expect(JSON.parse(registry.serialize(new Set([1])))).toStrictEqual({
      __classname__: 'builtins.set',
      __version__: 1,
      __data__: [1],
    })
  })

  it('refuses newer versions of Python types and malformed data', () => {
    const newer = (text: string) => {
      try {
        registry.deserialize(text)
      } catch (error) {
        return XComError.is(error) ? error.code : 'other'
      }
      return 'none'
    }
    expect(newer(datetime('datetime.datetime', '0', 'null', 3))).toBe('E_NOT_SERIALIZABLE')
    expect(newer('{"__classname__": "decimal.Decimal", "__version__": 2, "__data__": 1}')).toBe(
      'E_NOT_SERIALIZABLE',
    )
    expect(newer('{"__classname__": "datetime.date", "__version__": 2, "__data__": 20230401}')).toBe(
      'E_CORRUPT',
    )
    expect(newer('{"__classname__": "datetime.timedelta", "__version__": 2, "__data__": "soon"}')).toBe(
      'E_CORRUPT',
    )
    expect(newer('{"__classname__": "builtins.tuple", "__version__": 1, "__data__": {"a": 1}}')).toBe(
      'E_CORRUPT',
    )
    expect(newer('{"__classname__": "uuid.UUID", "__version__": 1, "__data__": 5}')).toBe('E_CORRUPT')
    expect(newer('{"__classname__": "decimal.Decimal", "__version__": 1, "__data__": null}')).toBe(
      'E_CORRUPT',
    )
    expect(newer('{"__classname__": "numpy.ndarray", "__version__": 1, "__data__": [1]}')).toBe(
      'E_NOT_ALLOWED',
    )
  })

  it('reads exactly the numeric strings it read before the number pattern was made linear', () => {
    // The pattern before, which backtracked quadratically on long digit runs; harmless on these short strings.
    const before = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'0123456789.eE+- x'), maxLength: 12 }),
      fc.double().map(String),
      fc.integer().map(String),
    )
    fc.assert(
      fc.property(text, (numeric) => {
        const data = JSON.stringify(numeric)
        const delta = `{"__classname__": "datetime.timedelta", "__version__": 2, "__data__": ${data}}`
        const date = datetime('datetime.datetime', data, 'null')
        const accepted = before.test(numeric) && Number.isFinite(Number(numeric))
        let read: unknown
        try {
          read = registry.deserialize(delta)
        } catch (error) {
          expect(XComError.is(error, 'E_CORRUPT')).toBe(true)
        }
        expect(read).toBe(accepted ? Math.round(Number(numeric) * 1e6) / 1e3 : undefined)
        if (accepted && Math.abs(Number(numeric)) < 1e11) {
          expect(registry.deserialize(date)).toStrictEqual(new Date(Math.round(Number(numeric) * 1000)))
        }
      }),
      { numRuns: 3000 },
    )
  })
})
