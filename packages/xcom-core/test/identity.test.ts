import { describe, expect, it } from 'vitest'
import { resolveIdentity } from '../src/adapter.ts'
import { formatIdentity, IDENTITY_LIMITS, XCOM_RETURN_KEY, XComError } from '../src/index.ts'

const base = { dagId: 'dag', runId: 'run', taskId: 'task' }

function invalid(identity: unknown): XComError {
  try {
    resolveIdentity(identity as never)
  } catch (error) {
    expect(XComError.is(error, 'E_INVALID_KEY')).toBe(true)
    return error as XComError
  }
  throw new Error('expected E_INVALID_KEY')
}

describe('XCom identity', () => {
  it('fills mapIndex -1 and key return_value', () => {
    expect(resolveIdentity(base)).toEqual({ ...base, mapIndex: -1, key: XCOM_RETURN_KEY })
    expect(resolveIdentity({ ...base, mapIndex: 3, key: 'k' })).toEqual({ ...base, mapIndex: 3, key: 'k' })
  })

  it.each(['dagId', 'runId', 'taskId', 'key'] as const)(
    'rejects an empty, too long or non-string %s, naming it',
    (field) => {
      expect(invalid({ ...base, [field]: '' }).message).toContain(`Invalid ${field}`)
      expect(invalid({ ...base, [field]: 'x'.repeat(IDENTITY_LIMITS[field] + 1) }).message).toMatch(/at most/)
      expect(invalid({ ...base, [field]: 42 }).message).toContain(field)
      expect(resolveIdentity({ ...base, [field]: 'x'.repeat(IDENTITY_LIMITS[field]) })[field]).toHaveLength(
        IDENTITY_LIMITS[field],
      )
    },
  )

  it('limits the key to 512 characters', () => {
    expect(IDENTITY_LIMITS.key).toBe(512)
  })

  it.each(['a\u0000b', 'line\nbreak', 'tab\t', 'del\u007f', 'c1\u0085', 'bad\ud800'])(
    'rejects control characters %j',
    (taskId) => {
      expect(invalid({ ...base, taskId }).message).toContain('taskId')
    },
  )

  it.each([-2, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', {}])('rejects mapIndex %s', (mapIndex) => {
    expect(invalid({ ...base, mapIndex }).message).toContain('mapIndex')
  })

  it('accepts identifiers that look like paths or URIs: they are data', () => {
    for (const taskId of ['..', 'a/b', 'a\\b', '%2e%2e', 's3://bucket/key', 'ü 漢字 😀']) {
      expect(resolveIdentity({ ...base, taskId }).taskId).toBe(taskId)
    }
  })

  it('rejects a missing identity object', () => {
    invalid(undefined)
    invalid(null)
  })

  it('formats identities for messages', () => {
    expect(formatIdentity(base)).toBe('dag/run/task/return_value')
    expect(formatIdentity({ ...base, mapIndex: 2, key: 'k' })).toBe('dag/run/task[2]/k')
  })
})
