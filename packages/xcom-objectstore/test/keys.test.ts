import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeSegment, identityPath, isObjectKey, objectKeyOf } from '../src/keys.ts'

const ctx = {
  dagId: 'dag',
  runId: 'run',
  taskId: 'task',
  mapIndex: -1,
  key: 'return_value',
  recordId: '0b7e5c9e-1c1a-4c1e-9f55-6f1f2b7f3a10',
}

describe('object keys', () => {
  it('encodes every identifier as exactly one safe segment', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }), (value) => {
        const segment = encodeSegment(value)
        expect(segment).toMatch(/^[A-Za-z0-9_.%~-]+$/)
        expect(segment.startsWith('.')).toBe(false)
        expect(segment.length).toBeLessThanOrEqual(160)
        if (!segment.includes('~') && value.isWellFormed()) expect(decodeURIComponent(segment)).toBe(value)
      }),
      { numRuns: 500 },
    )
  })

  it('keeps distinct identifiers apart', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 400 }),
        fc.string({ minLength: 1, maxLength: 400 }),
        (a, b) => {
          fc.pre(a !== b)
          expect(encodeSegment(a)).not.toBe(encodeSegment(b))
        },
      ),
      { numRuns: 300 },
    )
    expect(encodeSegment('%2e%2e')).toBe('%252e%252e')
    expect(encodeSegment('..')).toBe('%2E.')
    expect(encodeSegment('.')).toBe('%2E')
    expect(encodeSegment('a/b\\c')).toBe('a%2Fb%5Cc')
    expect(encodeSegment('manual__2024-01-01T00:00:00+00:00')).toBe(
      'manual__2024-01-01T00%3A00%3A00%2B00%3A00',
    )
  })

  it('lays keys out as <dag>/<run>/<task>/<mapIndex>/<key>/<id>.<format><codec suffix>', () => {
    expect(objectKeyOf(ctx, 'json', '')).toBe(`dag/run/task/-1/return_value/${ctx.recordId}.json`)
    expect(objectKeyOf({ ...ctx, mapIndex: 7, key: 'rows' }, 'bytes', '.gz')).toBe(
      `dag/run/task/7/rows/${ctx.recordId}.bin.gz`,
    )
    expect(identityPath({ ...ctx, dagId: '../..' })).toBe('%2E.%2F../run/task/-1/return_value')
    expect(() => objectKeyOf({ ...ctx, recordId: '../x' }, 'json', '')).toThrowError(
      expect.objectContaining({ code: 'E_INVALID_KEY' }),
    )
  })

  it('recognizes exactly the keys it builds (the only ones the sweep deletes)', () => {
    fc.assert(
      fc.property(
        fc.record({
          dagId: fc.string({ minLength: 1, maxLength: 250 }),
          runId: fc.string({ minLength: 1, maxLength: 250 }),
          taskId: fc.string({ minLength: 1, maxLength: 250 }),
          mapIndex: fc.integer({ min: -1, max: 100_000 }),
          key: fc.string({ minLength: 1, maxLength: 512 }),
          recordId: fc.uuid(),
        }),
        fc.constantFrom('json' as const, 'bytes' as const),
        fc.constantFrom('', '.gz', '.zst'),
        (identity, format, suffix) => {
          expect(isObjectKey(objectKeyOf(identity, format, suffix))).toBe(true)
        },
      ),
      { numRuns: 200 },
    )
    for (const foreign of [
      'unrelated/file.txt',
      'a/b/c/-1/k/id.txt',
      'a/b/c/x/k/id.json',
      `a/b/c/-1/k/sub/${ctx.recordId}.json`,
      '',
    ]) {
      expect(isObjectKey(foreign), foreign).toBe(false)
    }
  })
})
