import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectNoSecrets, expectXComError } from '@xcom/testing'
import type { JWT } from 'google-auth-library'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GcsObjectStore, type GcsObjectStoreOptions } from '../src/index.ts'
import { useLocalTarget } from './targets.ts'

/** A real (freshly generated) service account key: the SDK signs token requests with it. */
const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
})
const KEY_ID = `kid-${randomUUID()}`
const SERVICE_ACCOUNT = {
  type: 'service_account',
  project_id: 'key-project',
  private_key_id: KEY_ID,
  private_key: privateKey,
  client_email: 'xcom-test@key-project.iam.gserviceaccount.com',
  client_id: '1234567890',
}
/** The key's base64 lines: any of them in a message would leak part of the key. */
const KEY_LINES = privateKey.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'))

const local = useLocalTarget()
/** A loopback stand-in for oauth2.googleapis.com/token that refuses every key, as Google does for a revoked one. */
let tokenServer: Server
let tokenUrl: string
/** The signed JWT assertions the token server received: bearer credentials in their own right. */
const assertions: string[] = []
let keyDir: string

beforeAll(async () => {
  tokenServer = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString()
    })
    request.on('end', () => {
      const assertion = new URLSearchParams(body).get('assertion')
      if (assertion) assertions.push(assertion)
      response.writeHead(400, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }))
    })
  })
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve))
  tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`
  keyDir = mkdtempSync(join(tmpdir(), 'xcom-gcs-secret-'))
  writeFileSync(join(keyDir, 'key.json'), JSON.stringify(SERVICE_ACCOUNT))
})
afterAll(async () => {
  await new Promise((resolve) => tokenServer?.close(resolve))
  if (keyDir) rmSync(keyDir, { recursive: true, force: true })
})

/**
 * A store built by xcom from a key (its own JWT client), authenticating against the test server: its token requests
 * go to the loopback token server, and any other request off this machine fails the test.
 */
async function storeWithKey(credentials: Partial<GcsObjectStoreOptions>): Promise<GcsObjectStore> {
  const store = new GcsObjectStore({
    bucket: local().bucket,
    prefix: `secrets-${randomUUID()}`,
    ...local().options,
    ...credentials,
    maxRetries: 0,
    storageOptions: { useAuthWithCustomEndpoint: true },
  })
  const client = (await store.client.authClient.getClient()) as JWT
  expect(client.email).toBe(SERVICE_ACCOUNT.client_email)
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      const url = new URL(String(config.url))
      if (url.href === 'https://oauth2.googleapis.com/token') config.url = new URL(tokenUrl)
      else if (url.hostname !== '127.0.0.1')
        throw new Error(`The test would have left the machine: ${url.origin}`)
      return config
    },
  })
  return store
}

describe('GcsObjectStore keeps service account keys out of errors', () => {
  for (const [name, credentials] of [
    ['credentials (keyfile_dict)', () => ({ credentials: SERVICE_ACCOUNT })],
    ['keyFilename (key_path)', () => ({ keyFilename: join(keyDir, 'key.json') })],
  ] as const) {
    it(`a key refused by the token endpoint, given as ${name}: E_PERMISSION_DENIED, no key, no assertion`, async () => {
      const store = await storeWithKey(credentials())
      const before = assertions.length
      const denied = (promise: Promise<unknown>) => expectXComError(promise, 'E_PERMISSION_DENIED')
      const errors = [
        await denied(store.put('k.json', new TextEncoder().encode('{}'))),
        await denied(store.put('big.bin', new Uint8Array(300_000), { size: 300_000 })),
        await denied(store.get('k.json')),
        await denied(store.head('k.json')),
        await denied(
          (async () => {
            for await (const _ of store.list('')) break
          })(),
        ),
        ...(await store.deleteMany(['a', 'b'])).failed.map((entry) => entry.error),
      ]
      expect(errors).toHaveLength(7)
      // The token endpoint was really asked, with an assertion signed by the key.
      expect(assertions.length).toBeGreaterThan(before)
      const secrets = [
        privateKey,
        ...KEY_LINES,
        KEY_ID,
        ...assertions.map((jwt) => jwt.split('.')[2] as string),
      ]
      for (const error of errors) {
        expect(error.code, error.message).toBe('E_PERMISSION_DENIED')
        expect(error.message).toContain(store.url)
        expectNoSecrets(error, secrets)
      }
      // Nothing reached the storage server without a token.
      expect(
        local()
          .server!.requests()
          .filter((request) => JSON.stringify(request).includes(store.prefix)),
      ).toEqual([])
    })
  }

  it('an unusable private key fails with E_CONFIG, with no key material anywhere in the cause chain', async () => {
    const broken = { ...SERVICE_ACCOUNT, private_key: privateKey.replace(/\n[^-][^\n]+\n/, '\nAAAA\n') }
    // The default endpoint makes the SDK sign a token request first; signing fails locally, before any network.
    const store = new GcsObjectStore({ bucket: 'b', credentials: broken, maxRetries: 0 })
    const error = await expectXComError(store.head('k'), 'E_CONFIG')
    expectNoSecrets(error, [broken.private_key, ...KEY_LINES.slice(1), KEY_ID])
  })
})
