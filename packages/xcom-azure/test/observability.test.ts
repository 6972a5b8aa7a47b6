import { randomUUID } from 'node:crypto'
import { AccountSASPermissions, BlobServiceClient } from '@azure/storage-blob'
import { trace } from '@opentelemetry/api'
import { MemoryMetadataStore, type ObjectStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import {
  captureLogger,
  listedKeys,
  recordedText,
  recordTelemetry,
  startFaultProxy,
} from '@xcom/test-services'
import { expectBytes, randomBytes } from '@xcom/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { withPolicy } from '../src/client.ts'
import { AzureBlobObjectStore, type AzureBlobObjectStoreOptions } from '../src/index.ts'
import { azuriteFor } from './support.ts'

const ID = { dagId: 'etl', runId: 'run-1', taskId: 'extract' }
/** What Azure answers when it is briefly overloaded: a status its retry policy retries. */
const BUSY = { status: 503, headers: { 'x-ms-error-code': 'ServerBusy' }, body: '' }
/** Quick retries, so the tests do not wait the SDK's default 4 s between attempts. */
const FAST_RETRIES = { maxTries: 4, retryDelayInMs: 10, maxRetryDelayInMs: 50 }

const recording = recordTelemetry()
afterAll(() => {
  recording.stop()
})

/** An XCom offloading every value to `store`, tracing into the recording and logging at info into a captured logger. */
function loggedXCom(store: ObjectStore) {
  const { lines, logger } = captureLogger()
  const xcom = new XCom({
    metadata: new MemoryMetadataStore(),
    backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
    logger,
    logLevel: 'info',
    telemetry: { tracer: recording.tracer },
  })
  return { xcom, lines }
}

const azurite = await azuriteFor('the observability tests')
const proxy =
  azurite &&
  (await startFaultProxy(new URL(azurite.connectionString.match(/BlobEndpoint=([^;]+)/)?.[1] ?? '').origin))
afterAll(async () => {
  await proxy?.stop()
})

describe.runIf(azurite && proxy)('retries of the Azure client are logged at info', () => {
  const target = azurite as NonNullable<typeof azurite>
  const faults = proxy as NonNullable<typeof proxy>
  const accountUrl = () => `${faults.endpoint}/${target.azurite?.accountName}`
  const sas = () =>
    new URL(
      target.service.generateAccountSasUrl(
        new Date(Date.now() + 3_600_000),
        AccountSASPermissions.parse('rwdlac'),
        'sco',
      ),
    ).search
  const configurations: [string, () => Partial<AzureBlobObjectStoreOptions>, () => string][] = [
    [
      'an account key',
      () => ({ accountName: target.azurite?.accountName, accountKey: target.azurite?.accountKey }),
      () => target.azurite?.accountKey ?? '',
    ],
    ['a SAS token', () => ({ sasToken: sas() }), () => new URLSearchParams(sas()).get('sig') ?? ''],
  ]

  for (const [name, credentials, secretOf] of configurations) {
    it(`one line per retry of a push and a pull, naming the URI and the attempt, without ${name}`, async () => {
      const store = new AzureBlobObjectStore({
        ...credentials(),
        accountUrl: accountUrl(),
        container: target.container,
        prefix: `${target.runPrefix}/${randomUUID()}`,
        connectionId: 'conn',
        retryOptions: FAST_RETRIES,
      })
      const { xcom, lines } = loggedXCom(store)
      faults.failNext(2, BUSY, (request) => request.method === 'PUT' && /\/retried\//.test(request.url ?? ''))
      await xcom.push({ ...ID, key: 'retried' }, { rows: [1, 2, 3] })
      faults.failNext(1, BUSY, (request) => request.method === 'GET' && /\/retried\//.test(request.url ?? ''))
      expect(await xcom.pull({ ...ID, key: 'retried' })).toEqual({ rows: [1, 2, 3] })
      const [objectKey] = await listedKeys(store, 'etl/')
      const uri = `${store.url}/${objectKey}`
      expect(uri.startsWith(`abfs://conn@${target.container}/`)).toBe(true)
      const retries = lines.filter((line) => line.message.startsWith('Retrying'))
      expect(retries.map((line) => [line.level, line.fields])).toEqual([
        ['info', { uri, operation: 'PUT', attempt: 2, reason: '503 ServerBusy' }],
        ['info', { uri, operation: 'PUT', attempt: 3, reason: '503 ServerBusy' }],
        ['info', { uri, operation: 'GET', attempt: 2, reason: '503 ServerBusy' }],
      ])
      expect(retries[0]?.message).toBe(`Retrying PUT of ${uri}: attempt 2 after 503 ServerBusy.`)
      const secret = secretOf()
      expect(secret.length).toBeGreaterThan(10)
      expect(recordedText(recording.spans.getFinishedSpans(), lines)).not.toContain(secret)
      await xcom.close()
    })
  }

  it("runs every request of a put, a staged put and a read in the caller's active span", async () => {
    const seen: (string | undefined)[] = []
    const policy = {
      name: 'testActiveSpan',
      sendRequest: (request: never, next: (request: never) => unknown) => {
        seen.push(trace.getActiveSpan()?.spanContext().spanId)
        return next(request)
      },
    }
    const client = BlobServiceClient.fromConnectionString(target.connectionString, withPolicy({}, policy))
    const store = new AzureBlobObjectStore({
      client,
      container: target.container,
      prefix: `${target.runPrefix}/${randomUUID()}`,
      blockSize: 1024 * 1024,
      concurrency: 2,
    })
    const data = randomBytes(3 * 1024 * 1024 + 5, 11)
    const spanId = await recording.inSpan(async () => {
      await store.put('context/small', new Uint8Array(3))
      await store.put('context/big', data)
      expectBytes(await (await store.get('context/big')).bytes(), data)
    })
    // One upload, 4 staged blocks and their commit, then the reads of the big blob.
    expect(seen.length).toBeGreaterThanOrEqual(7)
    expect(new Set(seen)).toEqual(new Set([spanId]))
  })
})
