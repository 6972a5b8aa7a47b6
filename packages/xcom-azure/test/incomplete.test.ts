import { randomUUID } from 'node:crypto'
import { expectXComError, randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { AzureBlobObjectStore } from '../src/index.ts'
import { azuriteFor } from './support.ts'

const azurite = await azuriteFor('the removeIncomplete tests')

const MiB = 1024 * 1024
const blockId = (index: number) => Buffer.from(`block-${String(index).padStart(6, '0')}`).toString('base64')
const later = () => new Date(Date.now() + 60_000)
const earlier = () => new Date(Date.now() - 60_000)

if (azurite) {
  const { service, container, connectionString } = azurite
  const raw = service.getContainerClient(container)

  /** A store on a fresh prefix, and the names under it including uncommitted blobs. */
  const storeOn = () => {
    const prefix = `incomplete-${randomUUID().slice(0, 8)}`
    const store = new AzureBlobObjectStore({ connectionString, container, prefix, blockSize: MiB })
    const allNames = async (under = `${prefix}/`) => {
      const names: string[] = []
      for await (const item of raw.listBlobsFlat({ prefix: under, includeUncommitedBlobs: true }))
        names.push(item.name.slice(prefix.length + 1))
      return names.sort()
    }
    return { store, prefix, allNames }
  }

  /** Stages `count` blocks on a blob without committing them: what a killed staged upload leaves. */
  const stageOnly = async (name: string, count = 2, seed = 1) => {
    const blob = raw.getBlockBlobClient(name)
    for (let index = 0; index < count; index++) {
      await blob.stageBlock(blockId(index), randomBytes(1000, seed + index), 1000)
    }
    return blob
  }

  describe('AzureBlobObjectStore.removeIncomplete on azurite', () => {
    it('removes uncommitted blobs older than startedBefore, and frees their blocks', async () => {
      const { store, prefix, allNames } = storeOn()
      const killed = await stageOnly(`${prefix}/dag/killed.bin`)
      await store.put('dag/kept.bin', randomBytes(10, 2))
      expect(await allNames()).toEqual(['dag/kept.bin', 'dag/killed.bin'])
      expect((await killed.getBlockList('uncommitted')).uncommittedBlocks).toHaveLength(2)

      expect(await store.removeIncomplete(earlier())).toEqual({ removed: 0, failed: [] })
      expect(await allNames()).toEqual(['dag/kept.bin', 'dag/killed.bin'])

      expect(await store.removeIncomplete(later())).toEqual({ removed: 1, failed: [] })
      expect(await allNames()).toEqual(['dag/kept.bin'])
      await expect(killed.getBlockList('all')).rejects.toMatchObject({ statusCode: 404 })
      // Staging again starts from nothing: the old blocks were discarded, not just hidden (a plain delete keeps them).
      await killed.stageBlock(blockId(9), randomBytes(10, 9), 10)
      expect(
        (await killed.getBlockList('uncommitted')).uncommittedBlocks?.map((block) => block.name),
      ).toEqual([blockId(9)])
      expect(await (await store.get('dag/kept.bin')).bytes()).toEqual(randomBytes(10, 2))
    })

    it('never touches committed blobs: empty ones, and ones with a newer upload in progress', async () => {
      const { store, prefix, allNames } = storeOn()
      await store.put('busy.bin', randomBytes(3 * MiB, 1))
      await stageOnly(`${prefix}/busy.bin`, 2, 7)
      await store.put('empty.bin', new Uint8Array(0), { metadata: { 'xcom-format': 'bytes' } })
      await store.put('empty-busy.bin', new Uint8Array(0))
      await stageOnly(`${prefix}/empty-busy.bin`, 1, 3)
      await stageOnly(`${prefix}/gone.bin`)

      expect(await store.removeIncomplete(later())).toEqual({ removed: 1, failed: [] })
      expect(await allNames()).toEqual(['busy.bin', 'empty-busy.bin', 'empty.bin'])
      const busy = raw.getBlockBlobClient(`${prefix}/busy.bin`)
      expect((await busy.getBlockList('uncommitted')).uncommittedBlocks).toHaveLength(2)
      expect(Buffer.compare(await (await store.get('busy.bin')).bytes(), randomBytes(3 * MiB, 1))).toBe(0)
      expect(await store.head('empty.bin')).toMatchObject({ size: 0, metadata: { 'xcom-format': 'bytes' } })
      const emptyBusy = raw.getBlockBlobClient(`${prefix}/empty-busy.bin`)
      expect((await emptyBusy.getBlockList('uncommitted')).uncommittedBlocks).toHaveLength(1)
      expect((await store.head('empty-busy.bin'))?.size).toBe(0)
    })

    it('finds what a staged put left when its body failed, and only under its own prefix', async () => {
      const { store, prefix, allNames } = storeOn()
      const neighbour = storeOn()
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(MiB, 1)
        yield randomBytes(MiB, 2)
        throw new Error('the producer died')
      }
      await expect(store.put('dag/broken.bin', failing())).rejects.toThrow('the producer died')
      await expect(neighbour.store.put('dag/broken.bin', failing())).rejects.toThrow('the producer died')
      expect(await store.head('dag/broken.bin')).toBeUndefined()
      expect(await allNames()).toEqual(['dag/broken.bin'])
      expect(await store.removeIncomplete(later())).toEqual({ removed: 1, failed: [] })
      expect(await allNames()).toEqual([])
      expect(await neighbour.allNames()).toEqual(['dag/broken.bin'])
      expect(await neighbour.store.removeIncomplete(later())).toEqual({ removed: 1, failed: [] })
      expect(await neighbour.allNames()).toEqual([])
      expect(prefix).not.toBe(neighbour.prefix)
    })

    it('deletes, whatever its age, an empty blob a previous run committed but could not delete', async () => {
      const { store, prefix, allNames } = storeOn()
      await raw
        .getBlockBlobClient(`${prefix}/left.bin`)
        .commitBlockList([], { metadata: { xcom_discarding: 'true' } })
      await store.put('kept.bin', new Uint8Array(0))
      expect(await store.removeIncomplete(earlier())).toEqual({ removed: 1, failed: [] })
      expect(await allNames()).toEqual(['kept.bin'])
    })

    it('removes many leftovers across list pages', async () => {
      const prefix = `incomplete-${randomUUID().slice(0, 8)}`
      const store = new AzureBlobObjectStore({
        connectionString,
        container,
        prefix,
        pageSize: 7,
        deleteConcurrency: 3,
      })
      await Promise.all(Array.from({ length: 20 }, (_, index) => stageOnly(`${prefix}/k${index}`, 1, index)))
      await store.put('committed', randomBytes(5))
      expect(await store.removeIncomplete(later())).toEqual({ removed: 20, failed: [] })
      const left: string[] = []
      for await (const item of raw.listBlobsFlat({ prefix: `${prefix}/`, includeUncommitedBlobs: true }))
        left.push(item.name)
      expect(left).toEqual([`${prefix}/committed`])
    })

    it('fails with E_NOT_FOUND for a missing container', async () => {
      const store = new AzureBlobObjectStore({ connectionString, container: 'no-such-container' })
      const error = await expectXComError(store.removeIncomplete(later()), 'E_NOT_FOUND')
      expect(error.message).toContain('container does not exist')
    })
  })
}
