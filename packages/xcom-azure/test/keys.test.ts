import { randomUUID } from 'node:crypto'
import { expectListPrefixesChecked, expectMalformedKeysRefused, expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { AzureBlobObjectStore } from '../src/index.ts'
import { azuriteFor, blobNames } from './support.ts'

const azurite = await azuriteFor('the forged-key tests')

const text = (value: string) => new TextEncoder().encode(value)

if (azurite) {
  const { service, container, connectionString } = azurite

  const otherContainer = `other-${randomUUID().slice(0, 8)}`
  await service.getContainerClient(otherContainer).create()
  const raw = service.getContainerClient(container)
  const prefix = `keys-${randomUUID().slice(0, 8)}`
  const store = new AzureBlobObjectStore({ connectionString, container, prefix })
  // Blobs a forged key would reach: another prefix of the same container, and another container.
  const sameContainer = raw.getBlockBlobClient(`victim-${prefix}/secret.json`)
  const otherBlob = service.getContainerClient(otherContainer).getBlockBlobClient('secret.json')
  await sameContainer.uploadData(Buffer.from('same container'))
  await otherBlob.uploadData(Buffer.from('other container'))
  await store.put('dag/own.json', text('own'))
  // `dag/own.json` sits 3 levels deep under the container (prefix, dag, own.json).
  const forgedSame = `dag/own.json/../../../victim-${prefix}/secret.json`
  const forgedOther = `dag/own.json/../../../../${otherContainer}/secret.json`

  const expectVictimsUntouched = async () => {
    expect((await sameContainer.downloadToBuffer()).toString()).toBe('same container')
    expect((await otherBlob.downloadToBuffer()).toString()).toBe('other container')
    expect((await store.get('dag/own.json').then((body) => body.bytes())).byteLength).toBe(3)
  }

  describe('AzureBlobObjectStore refuses forged keys (azurite, real SDK)', () => {
    it('shows why: the SDK resolves ".." before sending, out of the prefix and out of the container', () => {
      expect(raw.getBlobClient(`${prefix}/${forgedSame}`).url).toBe(sameContainer.url)
      expect(raw.getBlobClient(`${prefix}/${forgedOther}`).url).toBe(otherBlob.url)
    })

    it('refuses them with E_INVALID_KEY in put, get and head, touching nothing', async () => {
      for (const key of [forgedSame, forgedOther]) {
        const put = await expectXComError(store.put(key, text('overwritten')), 'E_INVALID_KEY')
        expect(put.message).toContain(store.url)
        await expectXComError(store.put(key, text('created'), { ifNoneMatch: true }), 'E_INVALID_KEY')
        await expectXComError(store.get(key), 'E_INVALID_KEY')
        await expectXComError(store.get(key, { range: { start: 0, end: 3 } }), 'E_INVALID_KEY')
        await expectXComError(store.head(key), 'E_INVALID_KEY')
      }
      await expectVictimsUntouched()
    })

    it('reports forged keys as E_INVALID_KEY failures of deleteMany and still deletes the valid keys', async () => {
      await store.put('dag/a.json', text('a'))
      await store.put('dag/b.json', text('b'))
      const { failed } = await store.deleteMany(['dag/a.json', forgedSame, forgedOther, 'dag/b.json'])
      expect(failed.map(({ objectKey, error }) => [objectKey, error.code])).toEqual([
        [forgedSame, 'E_INVALID_KEY'],
        [forgedOther, 'E_INVALID_KEY'],
      ])
      expect(await blobNames(service, container, `${prefix}/`)).toEqual([`${prefix}/dag/own.json`])
      await expectVictimsUntouched()
      // One forged key alone, and a batch of forged keys only: no request at all.
      expect((await store.deleteMany([forgedOther])).failed).toHaveLength(1)
      expect((await store.deleteMany([forgedSame, forgedOther])).failed).toHaveLength(2)
      await expectVictimsUntouched()
    })

    it('refuses empty, "." and ".." segments, absolute keys and backslashes', async () => {
      await expectMalformedKeysRefused(store)
      expect(await blobNames(service, container, `${prefix}/`)).toEqual([`${prefix}/dag/own.json`])
    })

    it('checks list prefixes: "" and one trailing "/" are fine, forged ones are refused', async () => {
      await expectListPrefixesChecked(store, 'dag/own.json', [`../victim-${prefix}/`])
    })
  })
}
