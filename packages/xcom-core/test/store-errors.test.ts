import { describe, expect, it } from 'vitest'
import { XComError } from '../src/errors.ts'
import { codeOfHttpStatus, type StoreFailure, storeError } from '../src/store-errors.ts'

const failure: StoreFailure = {
  action: 'reading',
  uri: 's3://conn@bucket/xcom/a.json',
  what: 'NoSuchKey, HTTP 404',
  detail: 'The specified key does not exist.',
  cause: new Error('sdk'),
  container: 'bucket "bucket"',
  credentials: "the connection's login/password",
  endpoint: 'endpoint',
}

describe('storeError: the words every cloud adapter uses', () => {
  it('names a missing object, or a missing bucket when the service says so', () => {
    const object = storeError('E_NOT_FOUND', failure)
    expect(object).toBeInstanceOf(XComError)
    expect(object).toMatchObject({ code: 'E_NOT_FOUND', uri: failure.uri, cause: failure.cause })
    expect(object.message).toBe(
      `No object at ${failure.uri} (NoSuchKey, HTTP 404): it was never written or has been deleted.`,
    )
    const bucket = storeError('E_NOT_FOUND', { ...failure, containerMissing: true })
    expect(bucket.message).toContain('the bucket "bucket" does not exist')
    expect(bucket.message).toContain('fix the bucket name')
  })

  it('sends a refusal to the credentials, a failed condition to the existing object, the rest to the endpoint', () => {
    expect(storeError('E_PERMISSION_DENIED', failure).message).toMatch(
      /^Reading .* was refused .*check the credentials \(the connection's login\/password\) and that they may access this bucket\.$/,
    )
    expect(storeError('E_PRECONDITION_FAILED', failure).message).toContain('an object already exists there')
    const other = storeError('E_BACKEND', { ...failure, endpoint: 'account URL' })
    expect(other).toMatchObject({ code: 'E_BACKEND' })
    expect(other.message).toContain('Check that the account URL is reachable; the SDK already retried')
  })

  it('maps only the HTTP statuses that say what happened by themselves', () => {
    expect([401, 403, 404, 409, 412].map(codeOfHttpStatus)).toEqual([
      'E_PERMISSION_DENIED',
      'E_PERMISSION_DENIED',
      'E_NOT_FOUND',
      'E_PRECONDITION_FAILED',
      'E_PRECONDITION_FAILED',
    ])
    expect([undefined, 200, 400, 500, 503].map(codeOfHttpStatus)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ])
  })
})
