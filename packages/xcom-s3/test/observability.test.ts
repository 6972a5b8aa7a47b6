import { randomUUID } from 'node:crypto'
import { trace } from '@opentelemetry/api'
import { MemoryMetadataStore, type ObjectStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import {
  captureLogger,
  type FaultProxy,
  listedKeys,
  recordedText,
  recordTelemetry,
  startFaultProxy,
} from '@xcom/test-services'
import { expectBytes, randomBytes } from '@xcom/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3ObjectStore } from '../src/index.ts'
import { RETRY_LOG_MIDDLEWARE } from '../src/retries.ts'
import { MiB, rawClient, targetOrSkip, useS3rver, utf8 } from './support.ts'

const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY'
const SESSION_TOKEN = 'FwoGZXIvYXdzEXCOMSESSIONTOKENSECRET//0123'
const ID = { dagId: 'etl', runId: 'run-1', taskId: 'extract' }
/** What S3 answers when it is briefly unavailable: a transient error the SDK retries. */
const UNAVAILABLE = {
  status: 503,
  headers: { 'content-type': 'application/xml' },
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Try again.</Message></Error>',
}

const recording = recordTelemetry()
afterAll(() => {
  recording.stop()
})

/** An XCom offloading every value to `store`, tracing into the recording and logging into a captured logger. */
function loggedXCom(store: ObjectStore, logLevel: 'info' | 'debug' = 'info') {
  const { lines, logger } = captureLogger()
  const xcom = new XCom({
    metadata: new MemoryMetadataStore(),
    backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
    logger,
    logLevel,
    telemetry: { tracer: recording.tracer },
  })
  return { xcom, lines }
}

const getTarget = useS3rver()
let proxy: FaultProxy | undefined
beforeAll(async () => {
  const target = getTarget()
  if (target) proxy = await startFaultProxy(target.options.endpoint ?? '')
})
afterAll(async () => {
  await proxy?.stop()
})

describe('retries of the S3 client are logged at info', () => {
  it('one line per retry of a push and a pull, naming the command, the URI, the attempt and the status', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    const accessKeyId = target.options.credentials
      ? (target.options.credentials as { accessKeyId: string }).accessKeyId
      : ''
    // s3rver checks the access key but not the signature: the secret and token can be the leaky ones.
    const store = new S3ObjectStore({
      ...target.options,
      prefix: `${target.options.prefix}/${randomUUID()}`,
      endpoint: proxy?.endpoint ?? '',
      connectionId: 'conn',
      credentials: { accessKeyId, secretAccessKey: SECRET_KEY, sessionToken: SESSION_TOKEN },
    })
    const { xcom, lines } = loggedXCom(store)
    proxy?.failNext(
      2,
      UNAVAILABLE,
      (request) => request.method === 'PUT' && /\/retried\//.test(request.url ?? ''),
    )
    await xcom.push({ ...ID, key: 'retried' }, { rows: [1, 2, 3] })
    proxy?.failNext(1, UNAVAILABLE, (request) => request.method === 'GET')
    expect(await xcom.pull({ ...ID, key: 'retried' })).toEqual({ rows: [1, 2, 3] })
    expect(proxy?.failed).toBe(3)
    const [objectKey] = await listedKeys(store, 'etl/')
    const uri = `${store.url}/${objectKey}`
    expect(uri.startsWith(`s3://conn@${target.options.bucket}/`)).toBe(true)
    const retries = lines.filter((line) => line.message.startsWith('Retrying'))
    expect(retries).toEqual([
      {
        level: 'info',
        message: `Retrying PutObject of ${uri}: attempt 2 after 503 ServiceUnavailable.`,
        fields: { uri, operation: 'PutObject', attempt: 2, reason: '503 ServiceUnavailable' },
      },
      {
        level: 'info',
        message: `Retrying PutObject of ${uri}: attempt 3 after 503 ServiceUnavailable.`,
        fields: { uri, operation: 'PutObject', attempt: 3, reason: '503 ServiceUnavailable' },
      },
      {
        level: 'info',
        message: `Retrying GetObject of ${uri}: attempt 2 after 503 ServiceUnavailable.`,
        fields: { uri, operation: 'GetObject', attempt: 2, reason: '503 ServiceUnavailable' },
      },
    ])
    // Neither the secret key nor the session token shows in any log line or recorded span (attributes, events, status).
    const text = recordedText(recording.spans.getFinishedSpans(), lines)
    for (const secret of [SECRET_KEY, SESSION_TOKEN]) expect(text).not.toContain(secret)
    await xcom.close()
    await store.close()
  })

  it('adds the log once to a client passed in, even when two stores share it, and names no connection id', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    const client = rawClient({ ...target, options: { ...target.options, endpoint: proxy?.endpoint ?? '' } })
    const prefix = `${target.options.prefix}/${randomUUID()}`
    const first = new S3ObjectStore({ ...target.options, prefix, client, connectionId: 'one' })
    const second = new S3ObjectStore({ ...target.options, prefix, client, connectionId: 'two' })
    const logs = client.middlewareStack
      .identify()
      .filter((entry) => entry.startsWith(`${RETRY_LOG_MIDDLEWARE} `))
    expect(logs).toHaveLength(1)
    const { xcom, lines } = loggedXCom(second)
    proxy?.failNext(
      1,
      UNAVAILABLE,
      (request) => request.method === 'PUT' && /\/shared\//.test(request.url ?? ''),
    )
    await xcom.push({ ...ID, key: 'shared' }, 'value')
    const [objectKey] = await listedKeys(first, 'etl/')
    const retries = lines.filter((line) => line.message.startsWith('Retrying'))
    expect(retries.map((line) => line.fields.uri)).toEqual([
      `s3://${target.options.bucket}/${first.prefix}/${objectKey}`,
    ])
    await xcom.close()
    client.destroy()
  })

  it('logs nothing outside an XCom operation', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    // An XCom exists, but the store is called directly: there is no operation, so no logger to write to.
    const store = new S3ObjectStore({ ...target.options, endpoint: proxy?.endpoint ?? '' })
    const { lines } = loggedXCom(store, 'debug')
    proxy?.failNext(1, UNAVAILABLE)
    await store.put('outside', utf8('x'))
    expect(proxy?.failed).toBeGreaterThan(0)
    expect(lines).toEqual([])
    await store.close()
  })
})

describe("the caller's OpenTelemetry context reaches the S3 client", () => {
  it('every request of a put, a multipart put and a multi-part read runs in the active span', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    const client = rawClient(target)
    const seen: (string | undefined)[] = []
    client.middlewareStack.add(
      (next) => async (args) => {
        seen.push(trace.getActiveSpan()?.spanContext().spanId)
        return next(args)
      },
      { step: 'finalizeRequest', name: 'testActiveSpan' },
    )
    const store = new S3ObjectStore({ ...target.options, client, partSize: 5 * MiB, readConcurrency: 2 })
    const data = randomBytes(11 * MiB, 7)
    const spanId = await recording.inSpan(async () => {
      await store.put('context/small', utf8('small'))
      await store.put('context/big', data)
      expectBytes(await (await store.get('context/big')).bytes(), data)
    })
    // PutObject, then CreateMultipartUpload, 3 parts and Complete, then a GET and 2 ranged GETs.
    expect(seen.length).toBeGreaterThanOrEqual(9)
    expect(new Set(seen)).toEqual(new Set([spanId]))
    client.destroy()
  }, 30_000)
})
