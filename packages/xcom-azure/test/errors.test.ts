import { XComError } from '@xcom/core'
import { describe, expect, it } from 'vitest'
import { toXComError } from '../src/errors.ts'
import { decodeMetadataName, encodeMetadataName } from '../src/metadata.ts'

const URI = 'abfs://conn@container/prefix/a/b.json'

/** A RestError-like object as the SDK throws it. */
const restError = (fields: Record<string, unknown>) =>
  Object.assign(new Error(String(fields.message ?? 'failed')), { name: 'RestError', ...fields })

describe('toXComError', () => {
  it('maps Azure error codes first, then HTTP statuses, else E_BACKEND', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ statusCode: 404, code: 'BlobNotFound' }, 'E_NOT_FOUND'],
      [{ statusCode: 404, details: { errorCode: 'ContainerNotFound' } }, 'E_NOT_FOUND'],
      [{ statusCode: 404 }, 'E_NOT_FOUND'],
      [{ statusCode: 403, code: 'AuthorizationFailure' }, 'E_PERMISSION_DENIED'],
      [{ statusCode: 403, code: 'AuthenticationFailed' }, 'E_PERMISSION_DENIED'],
      [{ statusCode: 403, code: 'AuthorizationPermissionMismatch' }, 'E_PERMISSION_DENIED'],
      [{ statusCode: 403 }, 'E_PERMISSION_DENIED'],
      [{ statusCode: 401 }, 'E_PERMISSION_DENIED'],
      [{ statusCode: 412, code: 'ConditionNotMet' }, 'E_PRECONDITION_FAILED'],
      [{ statusCode: 409, code: 'BlobAlreadyExists' }, 'E_PRECONDITION_FAILED'],
      [{ statusCode: 409 }, 'E_PRECONDITION_FAILED'],
      [{ statusCode: 500, code: 'InternalError' }, 'E_BACKEND'],
      [{ statusCode: 503, code: 'ServerBusy' }, 'E_BACKEND'],
      [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'E_BACKEND'],
      [{ status: 404, errorCode: 'BlobNotFound' }, 'E_NOT_FOUND'],
      [{ status: 403, errorCode: 'AuthorizationFailure' }, 'E_PERMISSION_DENIED'],
    ]
    for (const [fields, code] of cases) {
      const error = toXComError(restError(fields), { action: 'reading', uri: URI })
      expect(error.code, JSON.stringify(fields)).toBe(code)
      expect(error.uri).toBe(URI)
      expect(error.message).toContain(URI)
    }
  })

  it('says what to do next', () => {
    expect(
      toXComError(restError({ statusCode: 404, code: 'ContainerNotFound' }), { action: 'writing', uri: URI })
        .message,
    ).toContain('Create it, or fix the container name')
    expect(toXComError(restError({ statusCode: 403 }), { action: 'writing', uri: URI }).message).toContain(
      'check the credentials',
    )
    expect(
      toXComError(restError({ statusCode: 409, code: 'BlobAlreadyExists' }), { action: 'writing', uri: URI })
        .message,
    ).toContain('an object already exists there')
  })

  it('passes XComErrors through unchanged', () => {
    const original = new XComError('E_TOO_LARGE', 'too large')
    expect(toXComError(original, { action: 'writing', uri: URI })).toBe(original)
  })

  it('scrubs secrets, SAS signatures and URL queries from the message and the cause, and drops the request', () => {
    const key = 'c2VjcmV0LWtleS12YWx1ZQ=='
    const sdk = restError({
      statusCode: 500,
      message: `Request to https://acct.blob.core.windows.net/c/b?sv=2024&sig=abcSIGNATURE failed with ${key}; AccountKey=${key};SharedAccessSignature=sv=1&sig=xyz`,
      request: {
        url: 'https://acct.blob.core.windows.net/c/b?sig=abcSIGNATURE',
        headers: { authorization: `SharedKey acct:${key}` },
        requestId: 'req-1',
      },
    })
    const error = toXComError(sdk, { action: 'reading', uri: URI, secrets: [key] })
    const cause = error.cause as Error & { request?: unknown; requestId?: string; statusCode?: number }
    for (const text of [error.message, cause.message, JSON.stringify(cause), JSON.stringify(error)]) {
      expect(text).not.toContain(key)
      expect(text).not.toContain('abcSIGNATURE')
      expect(text).not.toContain('sig=xyz')
    }
    expect(cause.request).toBeUndefined()
    expect(cause.requestId).toBe('req-1')
    expect(cause.statusCode).toBe(500)
    expect(error.message).toContain('https://acct.blob.core.windows.net/c/b?***')
  })
})

describe('metadata names', () => {
  it('maps dashed lowercase keys to underscores and back', () => {
    expect(encodeMetadataName('xcom-dag-id')).toBe('xcom_dag_id')
    expect(encodeMetadataName('xcomformat')).toBe('xcomformat')
    expect(decodeMetadataName('xcom_dag_id')).toBe('xcom-dag-id')
    expect(decodeMetadataName('XCOM_DAG_ID')).toBe('xcom-dag-id')
  })

  it('hex-encodes every other key, so the mapping stays reversible and a C# identifier', () => {
    const keys = [
      'a_b',
      '9lives',
      'dot.name',
      'Upper',
      'trailing-',
      '-leading',
      'double--dash',
      'ünï',
      '__proto__',
    ]
    for (const key of keys) {
      const name = encodeMetadataName(key)
      expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/)
      expect(name).toBe(name.toLowerCase())
      expect(decodeMetadataName(name)).toBe(key)
    }
    expect(encodeMetadataName('a_b')).toBe('__615f62')
  })
})
