import { randomUUID } from 'node:crypto'
import { XComError } from '@xcom/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GcsObjectStore } from '../src/index.ts'
import { type GcsTarget, startLocal, storeOn } from './targets.ts'

const text = (value: string) => new TextEncoder().encode(value)

async function rejection(promise: Promise<unknown>, code: string): Promise<XComError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(XComError.is(error), `expected an XComError ${code}, got ${String(error)}`).toBe(true)
  expect((error as XComError).code).toBe(code)
  return error as XComError
}

let local: GcsTarget
let store: GcsObjectStore
let victimName: string
let forged: string[]
beforeAll(async () => {
  const started = await startLocal()
  if (!started) throw new Error('The GCS test server did not start (see the warning above).')
  local = started
  store = storeOn(local)
  // Another object of the same bucket, outside the store's prefix: what a forged key would aim at.
  victimName = `victim-${randomUUID()}/secret.json`
  await store.storage.bucket(local.bucket).file(victimName).save('victim', { resumable: false })
  await store.put('dag/own.json', text('own'))
  // The store's prefix has two segments (xcom-gcs-test/<uuid>) and the key two more: four levels to the bucket root.
  forged = [`dag/own.json/../../../../${victimName}`, `dag/../../../../${victimName}`, `../${victimName}`]
})
afterAll(async () => {
  await local?.server?.stop()
})

async function expectVictimUntouched(): Promise<void> {
  expect(local.server!.readObject(local.bucket, victimName)?.toString()).toBe('victim')
  const [bytes] = await store.storage.bucket(local.bucket).file(victimName).download()
  expect(bytes.toString()).toBe('victim')
  expect(new TextDecoder().decode(await (await store.get('dag/own.json')).bytes())).toBe('own')
}

describe('GcsObjectStore refuses forged keys (GCS test server, real SDK)', () => {
  it('refuses them with E_INVALID_KEY in put, get and head, sending nothing', async () => {
    const last = local.server!.requests().at(-1)
    for (const key of forged) {
      const put = await rejection(store.put(key, text('overwritten')), 'E_INVALID_KEY')
      expect(put.message).toContain(store.url)
      await rejection(store.put(key, text('created'), { ifNoneMatch: true }), 'E_INVALID_KEY')
      await rejection(store.put(key, new Uint8Array(300_000), { size: 300_000 }), 'E_INVALID_KEY')
      await rejection(store.get(key), 'E_INVALID_KEY')
      await rejection(store.get(key, { range: { start: 0, end: 2 } }), 'E_INVALID_KEY')
      await rejection(store.head(key), 'E_INVALID_KEY')
    }
    expect(local.server!.requests().at(-1)).toBe(last)
    await expectVictimUntouched()
  })

  it('reports forged keys as E_INVALID_KEY failures of deleteMany and still deletes the valid keys', async () => {
    await store.put('dag/a.json', text('a'))
    await store.put('dag/b.json', text('b'))
    const { failed } = await store.deleteMany(['dag/a.json', ...forged, 'dag/b.json'])
    expect(failed.map(({ key, error }) => [key, error.code])).toEqual(
      forged.map((key) => [key, 'E_INVALID_KEY']),
    )
    expect(await store.head('dag/a.json')).toBeUndefined()
    expect(await store.head('dag/b.json')).toBeUndefined()
    await expectVictimUntouched()
  })

  it('refuses empty, "." and ".." segments, absolute keys and backslashes', async () => {
    for (const key of [
      '',
      '.',
      '..',
      '/dag/own.json',
      'dag//own.json',
      'dag/./own.json',
      'dag/own.json/',
      'a\\b',
    ]) {
      await rejection(store.head(key), 'E_INVALID_KEY')
      await rejection(store.put(key, text('x')), 'E_INVALID_KEY')
    }
    const keys: string[] = []
    for await (const info of store.list('')) keys.push(info.key)
    expect(keys).toEqual(['dag/own.json'])
  })

  it('checks list prefixes: "" and one trailing "/" are fine, forged ones are refused', async () => {
    const keys = async (prefix: string) => {
      const found: string[] = []
      for await (const info of store.list(prefix)) found.push(info.key)
      return found
    }
    expect(await keys('')).toEqual(['dag/own.json'])
    expect(await keys('dag/')).toEqual(['dag/own.json'])
    expect(await keys('dag/ow')).toEqual(['dag/own.json'])
    for (const prefix of ['../', `../${victimName.split('/')[0]}/`, 'dag/../', 'dag//', '/', './dag']) {
      await rejection(keys(prefix), 'E_INVALID_KEY')
    }
  })
})
