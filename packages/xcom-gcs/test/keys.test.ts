import { randomUUID } from 'node:crypto'
import { expectListPrefixesChecked, expectMalformedKeysRefused, expectXComError } from '@xcom/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import type { GcsObjectStore } from '../src/index.ts'
import { storeOn, useLocalTarget } from './targets.ts'

const text = (value: string) => new TextEncoder().encode(value)

const local = useLocalTarget()
let store: GcsObjectStore
let victimName: string
let forged: string[]
beforeAll(async () => {
  store = storeOn(local())
  // Another object of the same bucket, outside the store's prefix: what a forged key would aim at.
  victimName = `victim-${randomUUID()}/secret.json`
  await store.client.bucket(local().bucket).file(victimName).save('victim', { resumable: false })
  await store.put('dag/own.json', text('own'))
  // The store's prefix has two segments (xcom-gcs-test/<uuid>) and the key two more: four levels to the bucket root.
  forged = [`dag/own.json/../../../../${victimName}`, `dag/../../../../${victimName}`, `../${victimName}`]
})

async function expectVictimUntouched(): Promise<void> {
  expect(local().server!.readObject(local().bucket, victimName)?.toString()).toBe('victim')
  const [bytes] = await store.client.bucket(local().bucket).file(victimName).download()
  expect(bytes.toString()).toBe('victim')
  expect(new TextDecoder().decode(await (await store.get('dag/own.json')).bytes())).toBe('own')
}

describe('GcsObjectStore refuses forged keys (GCS test server, real SDK)', () => {
  it('refuses them with E_INVALID_KEY in put, get and head, sending nothing', async () => {
    const last = local().server!.requests().at(-1)
    for (const key of forged) {
      const put = await expectXComError(store.put(key, text('overwritten')), 'E_INVALID_KEY')
      expect(put.message).toContain(store.url)
      await expectXComError(store.put(key, text('created'), { ifNoneMatch: true }), 'E_INVALID_KEY')
      await expectXComError(store.put(key, new Uint8Array(300_000), { size: 300_000 }), 'E_INVALID_KEY')
      await expectXComError(store.get(key), 'E_INVALID_KEY')
      await expectXComError(store.get(key, { range: { start: 0, end: 2 } }), 'E_INVALID_KEY')
      await expectXComError(store.head(key), 'E_INVALID_KEY')
    }
    expect(local().server!.requests().at(-1)).toBe(last)
    await expectVictimUntouched()
  })

  it('reports forged keys as E_INVALID_KEY failures of deleteMany and still deletes the valid keys', async () => {
    await store.put('dag/a.json', text('a'))
    await store.put('dag/b.json', text('b'))
    const { failed } = await store.deleteMany(['dag/a.json', ...forged, 'dag/b.json'])
    expect(failed.map(({ objectKey, error }) => [objectKey, error.code])).toEqual(
      forged.map((key) => [key, 'E_INVALID_KEY']),
    )
    expect(await store.head('dag/a.json')).toBeUndefined()
    expect(await store.head('dag/b.json')).toBeUndefined()
    await expectVictimUntouched()
  })

  it('refuses empty, "." and ".." segments, absolute keys and backslashes', async () => {
    await expectMalformedKeysRefused(store)
    const keys: string[] = []
    for await (const info of store.list('')) keys.push(info.objectKey)
    expect(keys).toEqual(['dag/own.json'])
  })

  it('checks list prefixes: "" and one trailing "/" are fine, forged ones are refused', async () => {
    await expectListPrefixesChecked(store, 'dag/own.json', [`../${victimName.split('/')[0]}/`])
  })
})
