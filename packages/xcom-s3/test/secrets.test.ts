import { inspect } from 'node:util'
import { type Connection, type ObjectStorageUrl, XComError } from '@xcom/core'
import { parseObjectStorageUrl } from '@xcom/objectstore'
import { expectNoSecrets, expectXComError, randomBytes } from '@xcom/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { s3OptionsFromConnection } from '../src/connection.ts'
import { objectStoreFactory, type S3ObjectStore } from '../src/index.ts'
import { captureOutput, LOCAL_BUCKET, MiB, targetOrSkip, useS3rver } from './support.ts'

const ACCESS_KEY = 'AKIAXCOMTESTKEY7Q2Z'
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY'
const SESSION_TOKEN = 'FwoGZXIvYXdzEXCOMSESSIONTOKENSECRET//0123'
const SECRETS = [ACCESS_KEY, SECRET_KEY, SESSION_TOKEN]

/** Fails when any of the secrets shows in `text`. */
function expectNoSecret(text: string, what: string) {
  for (const secret of SECRETS) expect(text.includes(secret), `${what} shows ${secret}:\n${text}`).toBe(false)
}

/** The error an operation fails with (or the errors of its failed entries), checked whole: message, fields, causes. */
async function failures(run: () => Promise<unknown>): Promise<XComError[]> {
  const outcome = await run().then(
    (value) => value,
    (error: unknown) => error,
  )
  const errors = XComError.is(outcome)
    ? [outcome]
    : ((outcome as { failed?: { error: XComError }[] })?.failed ?? []).map(({ error }) => error)
  expect(errors.length, `expected a failure, got ${inspect(outcome)}`).toBeGreaterThan(0)
  for (const error of errors) expectNoSecrets(error, SECRETS)
  return errors
}

const connection = (endpoint: string): Connection => ({
  id: 'leaky',
  connType: 'aws',
  login: ACCESS_KEY,
  password: SECRET_KEY,
  extra: {
    aws_session_token: SESSION_TOKEN,
    region_name: 'us-east-1',
    endpoint_url: endpoint,
    config_kwargs: { s3: { addressing_style: 'path' }, retries: { total_max_attempts: 1 } },
  },
})

describe('no secret in messages, errors or logs', () => {
  const getTarget = useS3rver()
  const output = captureOutput()
  const stores: S3ObjectStore[] = []
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
  })
  const operations = (store: S3ObjectStore) => ({
    put: () => store.put('k', new Uint8Array(3)),
    putMultipart: () => store.put('big', randomBytes(6 * MiB)),
    get: () => store.get('k'),
    head: () => store.head('k'),
    list: async () => {
      for await (const _ of store.list('')) {
      }
    },
    deleteMany: () => store.deleteMany(['k']),
    removeIncomplete: () => store.removeIncomplete(new Date()),
  })

  it('a connection whose keys the endpoint refuses: every operation fails without showing them', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    const store = objectStoreFactory(
      parseObjectStorageUrl(`s3://leaky@${LOCAL_BUCKET}/${target.options.prefix}/leaky?part_size=5242880`),
      connection(target.options.endpoint ?? ''),
    )
    stores.push(store)
    expectNoSecret(store.url, 'the store url')
    for (const [name, run] of Object.entries(operations(store))) {
      const errors = await failures(run)
      for (const error of errors) expect(error.code, name).toBe('E_PERMISSION_DENIED')
    }
    expectNoSecret(output.join('\n'), 'the console and process warnings')
  })

  it('a connection to an endpoint that does not answer: every operation fails without showing them', async (ctx) => {
    targetOrSkip(getTarget, ctx)
    // Port 9 (discard) on loopback: nothing listens there, so every request is refused at once.
    const store = objectStoreFactory(
      parseObjectStorageUrl(`s3://leaky@${LOCAL_BUCKET}/leaky?part_size=5242880`),
      connection('http://127.0.0.1:9'),
    )
    stores.push(store)
    for (const [name, run] of Object.entries(operations(store))) {
      const errors = await failures(run)
      for (const error of errors) {
        expect(error.code, name).toBe('E_BACKEND')
        expect(error.message).toContain('ECONNREFUSED')
      }
    }
    expectNoSecret(output.join('\n'), 'the console and process warnings')
  })

  it('connection errors never repeat a key (half a key pair, malformed extras)', async () => {
    for (const broken of [
      { id: 'c', connType: 'aws', password: SECRET_KEY, extra: {} },
      { id: 'c', connType: 'aws', login: ACCESS_KEY, extra: {} },
      { id: 'c', connType: 'aws', extra: { aws_access_key_id: ACCESS_KEY } },
      { id: 'c', connType: 'aws', extra: { aws_secret_access_key: SECRET_KEY } },
      { id: 'c', connType: 'aws', login: ACCESS_KEY, password: SECRET_KEY, extra: { config_kwargs: 'x' } },
    ] satisfies Connection[]) {
      expectNoSecrets(await expectXComError(() => s3OptionsFromConnection(broken), 'E_CONFIG'), SECRETS)
    }
  })

  it('credentials written into the s3:// URL are refused without being repeated', async () => {
    // Built by hand: @xcom/objectstore's parser refuses such a URL itself before any adapter sees it.
    const url: ObjectStorageUrl = {
      url: `s3://${ACCESS_KEY}:${SESSION_TOKEN}@bucket/p`,
      scheme: 's3',
      protocol: 's3',
      connId: `${ACCESS_KEY}:${SESSION_TOKEN}`,
      bucket: 'bucket',
      path: '/p',
      prefix: 'p',
      options: {},
    }
    const error = await expectXComError(() => objectStoreFactory(url, undefined), 'E_CONFIG')
    expect(error.message).toContain('carries credentials')
    expectNoSecrets(error, SECRETS)
  })
})
