import { XComError } from '@xcom/core'
import { describe, expect, it } from 'vitest'
import { GcsSdkError, redact, toXComError } from '../src/errors.ts'

const context = { action: 'reading', uri: 'gs://conn@bucket/xcom/k' }

/** An error shaped like the SDK's ApiError / GaxiosError. */
function sdkError(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message ?? 'failed')), fields)
}

describe('toXComError', () => {
  it.each([
    [{ code: 404, message: 'No such object: bucket/xcom/k' }, 'E_NOT_FOUND'],
    [{ code: 401, message: 'Unauthorized' }, 'E_PERMISSION_DENIED'],
    [{ code: 403, message: 'xcom@p.iam does not have storage.objects.get access' }, 'E_PERMISSION_DENIED'],
    [
      { code: 412, message: 'At least one of the pre-conditions you specified did not hold.' },
      'E_PRECONDITION_FAILED',
    ],
    // 7.x resumable errors carry no code, only the response status.
    [{ code: undefined, response: { status: 412 }, message: 'Precondition Failed' }, 'E_PRECONDITION_FAILED'],
    [{ status: 404, message: 'Not Found' }, 'E_NOT_FOUND'],
    [{ code: 503, message: 'Service Unavailable' }, 'E_BACKEND'],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'E_BACKEND'],
    [{ code: 'CONTENT_DOWNLOAD_MISMATCH', message: 'The downloaded data did not match' }, 'E_CORRUPT'],
    [
      { code: 'FILE_NO_UPLOAD', message: 'The uploaded data did not match the data from the server.' },
      'E_CORRUPT',
    ],
    [{ code: 'ENOENT', message: "ENOENT: no such file or directory, open '/k.json'" }, 'E_CONFIG'],
    [{ code: 'ERR_OSSL_UNSUPPORTED', message: 'error:1E08010C:DECODER routines::unsupported' }, 'E_CONFIG'],
    [
      { message: 'Could not load the default credentials. Browse to https://cloud.google.com/docs/...' },
      'E_CONFIG',
    ],
    [{ response: { status: 400 }, message: 'invalid_grant: Invalid JWT Signature.' }, 'E_PERMISSION_DENIED'],
  ])('maps %j to %s', (fields, code) => {
    const error = toXComError(sdkError(fields), context)
    expect(error).toBeInstanceOf(XComError)
    expect(error.code).toBe(code)
    expect(error.uri).toBe(context.uri)
    expect(error.message).toContain(context.uri)
    expect(error.cause).toBeInstanceOf(GcsSdkError)
  })

  it('says a missing bucket is a missing bucket', () => {
    const error = toXComError(
      sdkError({ code: 404, message: 'The specified bucket does not exist.' }),
      context,
    )
    expect(error.code).toBe('E_NOT_FOUND')
    expect(error.message).toContain('bucket does not exist')
  })

  it('shows the message of a Google error JSON body, not the raw JSON', () => {
    const body = JSON.stringify({
      error: { code: 503, message: 'Backend busy', errors: [{ reason: 'backendError' }] },
    })
    const error = toXComError(
      sdkError({ code: 503, message: body, errors: [{ reason: 'backendError' }] }),
      context,
    )
    expect(error.message).toContain('Backend busy')
    expect(error.message).not.toContain('"errors"')
    expect((error.cause as GcsSdkError).reason).toBe('backendError')
  })

  it('passes an XComError through unchanged', () => {
    const original = new XComError('E_INVALID_KEY', 'bad key')
    expect(toXComError(original, context)).toBe(original)
  })

  it('keeps no request configuration (tokens) and no key material in the message or the cause', () => {
    const leaky = sdkError({
      code: 401,
      message:
        'Request failed with Authorization: Bearer ya29.a0AfH6SMBsecrettoken and key -----BEGIN PRIVATE KEY-----\nMIIEsecret\n-----END PRIVATE KEY-----',
      config: { headers: { Authorization: 'Bearer ya29.a0AfH6SMBsecrettoken' } },
      response: { status: 401, config: { headers: { Authorization: 'Bearer ya29.a0AfH6SMBsecrettoken' } } },
    })
    const error = toXComError(leaky, context)
    expect(error.code).toBe('E_PERMISSION_DENIED')
    const everything = `${error.message} ${JSON.stringify(error.cause)} ${String(error.cause)} ${Object.keys(error.cause as object)}`
    expect(everything).not.toContain('ya29')
    expect(everything).not.toContain('MIIE')
    expect(everything).not.toContain('config')
  })
})

describe('redact', () => {
  it('removes PEM blocks, bearer tokens, JSON secrets and long base64 runs', () => {
    expect(redact('a -----BEGIN RSA PRIVATE KEY-----\nxyz\n-----END RSA PRIVATE KEY----- b')).toBe(
      'a [redacted key] b',
    )
    expect(redact('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [redacted]')
    expect(redact('{"private_key": "shh", "client_email": "a@b"}')).toBe(
      '{"private_key": [redacted], "client_email": "a@b"}',
    )
    expect(redact(`token=${'A'.repeat(30)}&x=1`)).toBe('token=[redacted]&x=1')
    expect(redact(`blob ${'Q'.repeat(200)}`)).toBe('blob [redacted]')
    expect(redact('x'.repeat(1000)).length).toBeLessThanOrEqual(300)
  })
})
