import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { trace } from '@opentelemetry/api'
import { MemoryMetadataStore, type ObjectStore, XCom } from '@xcom/core'
import { ObjectStoreXComBackend } from '@xcom/objectstore'
import { captureLogger, listedKeys, recordedText, recordTelemetry } from '@xcom/test-services'
import { expectBytes, randomBytes } from '@xcom/testing'
import type { JWT } from 'google-auth-library'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GcsObjectStore } from '../src/index.ts'
import { storeOn, useLocalTarget } from './targets.ts'

const ID = { dagId: 'etl', runId: 'run-1', taskId: 'extract' }
const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
})
const SERVICE_ACCOUNT = {
  type: 'service_account',
  project_id: 'key-project',
  private_key_id: `kid-${randomUUID()}`,
  private_key: privateKey,
  client_email: 'xcom-test@key-project.iam.gserviceaccount.com',
}
/** The key's base64 lines and the token the stand-in token endpoint grants: none may show anywhere. */
const ACCESS_TOKEN = `ya29.${randomUUID()}`
const SECRETS = [
  ACCESS_TOKEN,
  ...privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-')),
]

const recording = recordTelemetry()
const local = useLocalTarget()
/** A loopback stand-in for oauth2.googleapis.com/token that grants every key a token. */
let tokenServer: Server
let tokenUrl: string
beforeAll(async () => {
  tokenServer = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ access_token: ACCESS_TOKEN, expires_in: 3600, token_type: 'Bearer' }))
    })
  })
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve))
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`
})
afterAll(async () => {
  recording.stop()
  await new Promise((resolve) => tokenServer?.close(resolve))
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

/** A store authenticating with the service account key, its token requests sent to the loopback token server. */
async function storeWithKey(): Promise<GcsObjectStore> {
  const store = storeOn(local(), {
    connectionId: 'conn',
    credentials: SERVICE_ACCOUNT,
    storageOptions: { useAuthWithCustomEndpoint: true },
  })
  const client = (await store.client.authClient.getClient()) as JWT
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      if (new URL(String(config.url)).href === 'https://oauth2.googleapis.com/token')
        config.url = new URL(tokenUrl)
      return config
    },
  })
  return store
}

describe('retries of the GCS client are logged at info', () => {
  it('one line per retry of a push and a read, naming the URI and the attempt, without the key or token', async () => {
    const store = await storeWithKey()
    const { xcom, lines } = loggedXCom(store)
    local().server?.failNext({ status: 503, times: 2, method: 'POST', pathIncludes: 'retried' })
    await xcom.push({ ...ID, key: 'retried' }, { rows: [1, 2, 3] })
    local().server?.failNext({ status: 503, times: 1, method: 'GET', pathIncludes: 'retried' })
    expect(await xcom.pull({ ...ID, key: 'retried' })).toEqual({ rows: [1, 2, 3] })
    const [objectKey] = await listedKeys(store, 'etl/')
    const uri = `${store.url}/${objectKey}`
    expect(uri.startsWith(`gs://conn@${local().bucket}/`)).toBe(true)
    const retries = lines.filter((line) => line.message.startsWith('Retrying'))
    expect(
      retries.map((line) => [line.level, line.fields.uri, line.fields.operation, line.fields.attempt]),
    ).toEqual([
      ['info', uri, 'upload', 2],
      ['info', uri, 'upload', 3],
      ['info', uri, 'object request', 2],
    ])
    expect(retries[0]?.message).toBe(
      `Retrying upload of ${uri}: attempt 2 after ${retries[0]?.fields.reason}.`,
    )
    expect(retries[0]?.fields.reason).toMatch(/^503\b/)
    const text = recordedText(recording.spans.getFinishedSpans(), lines)
    for (const secret of SECRETS) expect(text).not.toContain(secret)
    await xcom.close()
  })
})

describe("the caller's OpenTelemetry context reaches the GCS client", () => {
  it('every request of a put, a resumable put and a read runs in the active span', async () => {
    const store = storeOn(local(), { resumableThreshold: 1024 * 1024, chunkSize: 256 * 1024 })
    const seen: (string | undefined)[] = []
    // An interceptor runs as the SDK prepares each request, in whatever context the request was started from.
    store.client.interceptors.push({
      request: (options: never) => {
        seen.push(trace.getActiveSpan()?.spanContext().spanId)
        return options
      },
    })
    const data = randomBytes(2 * 1024 * 1024 + 3, 5)
    const spanId = await recording.inSpan(async () => {
      await store.put('context/small', new Uint8Array(3))
      await store.put('context/big', data)
      expectBytes(await (await store.get('context/big')).bytes(), data)
    })
    expect(seen.length).toBeGreaterThanOrEqual(3)
    expect(new Set(seen)).toEqual(new Set([spanId]))
  })
})
