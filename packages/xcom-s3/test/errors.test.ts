import { NoSuchBucket, NoSuchKey, NotFound } from '@aws-sdk/client-s3'
import { XComError } from '@xcom/core'
import { describe, expect, it } from 'vitest'
import { toXComError } from '../src/errors.ts'
import { serviceError } from './support.ts'

const ctx = { action: 'reading', uri: 's3://conn@bucket/xcom/a/b', bucket: 'bucket' }

describe('toXComError', () => {
  it('maps missing keys to E_NOT_FOUND naming the URI', () => {
    for (const error of [
      new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' }),
      new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' }),
      serviceError('SomethingElse', 404),
    ]) {
      const mapped = toXComError(error, ctx)
      expect(mapped.code).toBe('E_NOT_FOUND')
      expect(mapped.uri).toBe(ctx.uri)
      expect(mapped.message).toContain(ctx.uri)
      expect(mapped.cause).toBe(error)
    }
  })

  it('maps NoSuchBucket to E_NOT_FOUND naming the bucket', () => {
    const mapped = toXComError(new NoSuchBucket({ $metadata: { httpStatusCode: 404 }, message: 'gone' }), ctx)
    expect(mapped.code).toBe('E_NOT_FOUND')
    expect(mapped.message).toContain('bucket "bucket" does not exist')
  })

  it('maps refusals to E_PERMISSION_DENIED', () => {
    for (const name of ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken']) {
      expect(toXComError(serviceError(name, 403), ctx).code).toBe('E_PERMISSION_DENIED')
    }
    expect(toXComError(serviceError('Whatever', 403), ctx).code).toBe('E_PERMISSION_DENIED')
  })

  it('maps failed conditions to E_PRECONDITION_FAILED', () => {
    expect(toXComError(serviceError('PreconditionFailed', 412), ctx).code).toBe('E_PRECONDITION_FAILED')
    expect(toXComError(serviceError('ConditionalRequestConflict', 409), ctx).code).toBe(
      'E_PRECONDITION_FAILED',
    )
    expect(toXComError(serviceError('Other', 412), ctx).code).toBe('E_PRECONDITION_FAILED')
  })

  it('maps a DeleteObjects error entry by its Code', () => {
    expect(toXComError({ Key: 'k', Code: 'AccessDenied', Message: 'no' }, ctx).code).toBe(
      'E_PERMISSION_DENIED',
    )
  })

  it('maps missing configuration to E_CONFIG', () => {
    expect(
      toXComError(
        Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        }),
        ctx,
      ).code,
    ).toBe('E_CONFIG')
    expect(toXComError(new Error('Region is missing'), ctx).code).toBe('E_CONFIG')
  })

  it('maps everything else to E_BACKEND with the SDK detail', () => {
    const mapped = toXComError(serviceError('InternalError', 500, 'We encountered an internal error.'), ctx)
    expect(mapped.code).toBe('E_BACKEND')
    expect(mapped.message).toContain('InternalError, HTTP 500')
    const network = toXComError(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
      ctx,
    )
    expect(network.code).toBe('E_BACKEND')
    expect(network.message).toContain('ECONNREFUSED')
  })

  it('never repeats a known secret', () => {
    const mapped = toXComError(new Error('bad signature for secret wJalrXUtnFEMI/K7MDENG'), {
      ...ctx,
      secrets: ['wJalrXUtnFEMI/K7MDENG'],
    })
    expect(mapped.message).not.toContain('wJalrXUtnFEMI')
    expect(mapped.message).toContain('***')
  })

  it('says so when the endpoint does not implement the operation (S3-compatible services, emulators)', () => {
    for (const [name, status] of [
      ['NotImplemented', 501],
      ['MethodNotAllowed', 405],
      ['Whatever', 501],
    ] as const) {
      const mapped = toXComError(serviceError(name, status), ctx)
      expect(mapped.code).toBe('E_BACKEND')
      expect(mapped.message).toContain('the endpoint does not implement this S3 operation')
    }
  })

  it('uses the Message of a DeleteObjects error entry as the detail', () => {
    const mapped = toXComError({ Key: 'k', Code: 'InternalError', Message: 'disk on fire' }, ctx)
    expect(mapped.message).toContain('InternalError: disk on fire')
  })

  it('scrubs known secrets from the SDK error kept as cause, and drops the raw HTTP body of its $response', () => {
    const token = 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN'
    const error = serviceError(
      'SignatureDoesNotMatch',
      403,
      `The request signature does not match (${token})`,
    )
    Object.assign(error, { CanonicalRequest: `GET\n/k\n\nx-amz-security-token:${token}\n` })
    const body = { req: { _header: `x-amz-security-token: ${token}` } }
    Object.defineProperty(error, '$response', {
      value: { statusCode: 403, reason: 'Forbidden', headers: {}, body },
      enumerable: false,
      writable: false,
      configurable: false,
    })
    const mapped = toXComError(error, { ...ctx, secrets: [token] })
    expect(mapped.cause).toBe(error)
    expect(error.message).not.toContain(token)
    expect(String(error.stack)).not.toContain(token)
    expect((error as unknown as { CanonicalRequest: string }).CanonicalRequest).toContain(
      'x-amz-security-token:***',
    )
    expect(
      (error as unknown as { $response: { body?: unknown; statusCode: number } }).$response,
    ).toMatchObject({
      statusCode: 403,
      body: undefined,
    })
  })

  it('passes an XComError through unchanged', () => {
    const error = new XComError('E_CORRUPT', 'bad')
    expect(toXComError(error, ctx)).toBe(error)
  })
})
