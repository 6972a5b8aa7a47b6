import type { Agent as HttpAgent } from 'node:http'
import { Agent } from 'node:https'
import { S3Client } from '@aws-sdk/client-s3'
import { expectBytes, randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/index.ts'
import { captureOutput, MiB, storeOpener, targetOrSkip, useS3rver } from './support.ts'

const CAPACITY = /socket usage at capacity/

/** The https agent the client's request handler will use (the handler resolves its settings lazily). */
async function httpsAgentOf(client: S3Client): Promise<Agent & { options: Record<string, unknown> }> {
  const handler = client.config.requestHandler as unknown as {
    configProvider: Promise<{ httpsAgent: unknown }>
  }
  return (await handler.configProvider).httpsAgent as Agent & { options: Record<string, unknown> }
}

describe('the socket pool of the client a store creates', () => {
  it('holds 32 times the parts one operation keeps in flight, or maxSockets', async () => {
    const base = { bucket: 'xcom-test', region: 'us-east-1' }
    const sized = async (options: Partial<S3ObjectStoreOptions>) => {
      const store = new S3ObjectStore({ ...base, ...options })
      const agent = await httpsAgentOf(store.client)
      await store.close()
      return agent.maxSockets
    }
    expect(await sized({})).toBe(128)
    expect(await sized({ queueSize: 8 })).toBe(256)
    expect(await sized({ readConcurrency: 1, queueSize: 1 })).toBe(32)
    expect(await sized({ maxSockets: 300 })).toBe(300)
  })

  it('keeps the caller handler options and agent options, and their own maxSockets', async () => {
    const store = new S3ObjectStore({
      bucket: 'xcom-test',
      region: 'us-east-1',
      clientConfig: {
        requestHandler: { connectionTimeout: 1234, httpsAgent: { rejectUnauthorized: false } },
      },
    })
    const agent = await httpsAgentOf(store.client)
    expect(agent.maxSockets).toBe(128)
    expect(agent.options.rejectUnauthorized).toBe(false)
    const handler = store.client.config.requestHandler as unknown as {
      configProvider: Promise<{ connectionTimeout: number }>
    }
    expect((await handler.configProvider).connectionTimeout).toBe(1234)
    await store.close()
    const own = new S3ObjectStore({
      bucket: 'xcom-test',
      region: 'us-east-1',
      clientConfig: { requestHandler: { httpsAgent: { maxSockets: 7 } } },
    })
    expect((await httpsAgentOf(own.client)).maxSockets).toBe(7)
    await own.close()
  })

  it('leaves an agent instance, a handler instance and a client passed in alone', async () => {
    const mine = new Agent({ keepAlive: true, maxSockets: 3 })
    const withAgent = new S3ObjectStore({
      bucket: 'xcom-test',
      region: 'us-east-1',
      clientConfig: { requestHandler: { httpsAgent: mine } },
    })
    expect(await httpsAgentOf(withAgent.client)).toBe(mine)
    const client = new S3Client({ region: 'us-east-1' })
    const withClient = new S3ObjectStore({ bucket: 'xcom-test', client, maxSockets: 500 })
    expect(withClient.client).toBe(client)
    // The SDK's own default pool: the store does not touch a client it was given.
    expect((await httpsAgentOf(client)).maxSockets).toBe(50)
    client.destroy()
    mine.destroy()
  })
})

describe('40 concurrent reads on s3rver', () => {
  const getTarget = useS3rver()
  const output = captureOutput()
  const opener = storeOpener(getTarget)
  // Warn after 50 ms of waiting for a socket (the SDK's default is 3 s), so a short test sees any queue.
  const open = (options: Partial<S3ObjectStoreOptions> = {}) =>
    opener({
      partSize: 5 * MiB,
      clientConfig: { requestHandler: { socketAcquisitionWarningTimeout: 50 } },
      ...options,
    })

  it('the capture sees the SDK warning when the pool is too small (control)', async (ctx) => {
    targetOrSkip(getTarget, ctx)
    const store = open({ maxSockets: 2 })
    await store.put('control/k', new Uint8Array(10))
    // Each read holds its socket for 200 ms before reading the body: 8 of 10 requests wait for one of 2 sockets.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const body = await store.get('control/k')
        await new Promise((resolve) => setTimeout(resolve, 200))
        return body.bytes()
      }),
    )
    expect(output.some((line) => CAPACITY.test(line))).toBe(true)
  })

  it('40 concurrent gets of a 4-part object (160 requests at once) print no socket warning', async (ctx) => {
    targetOrSkip(getTarget, ctx)
    const store = open()
    const data = randomBytes(15 * MiB + 1, 3)
    await store.put('many/k', data)
    // The http agent (made at the first request): sockets in use plus requests waiting for one, sampled meanwhile.
    const agent = (store.client.config.requestHandler as unknown as { config: { httpAgent: HttpAgent } })
      .config.httpAgent
    const demand = () =>
      [agent.sockets, agent.requests].reduce(
        (total, byOrigin) =>
          total + Object.values(byOrigin).reduce((sum, list) => sum + (list?.length ?? 0), 0),
        0,
      )
    let peak = 0
    const sampler = setInterval(() => {
      peak = Math.max(peak, demand())
    }, 5)
    // Each read starts its 4 part requests at its first read; taking the first part and cancelling the rest keeps the
    // same peak of requests while moving a third of the bytes through s3rver (which shares this process).
    const firsts = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const reader = (await store.get('many/k')).stream().getReader()
        const first = await reader.read()
        await reader.cancel()
        return first.value as Uint8Array
      }),
    ).finally(() => clearInterval(sampler))
    for (const first of firsts) expectBytes(first, data.subarray(0, 5 * MiB))
    expect(output.filter((line) => CAPACITY.test(line))).toEqual([])
    // Not vacuous: with the SDK's default pool of 50, a demand of 150 or more leaves 100 waiting, and it warns.
    expect(peak).toBeGreaterThanOrEqual(150)
  }, 60_000)
})
