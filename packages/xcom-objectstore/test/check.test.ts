import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MemoryMetadataStore, type PutOptions, XCom, XComError } from '@xcom/core'
import { describe, expect, it } from 'vitest'
import { CLAIM_KEY, FileObjectStore, ObjectStoreXComBackend } from '../src/index.ts'
import { collect, filesUnder, tempDir } from './helpers.ts'

/** A file store whose credentials may not write. */
class DeniedStore extends FileObjectStore {
  override async put(objectKey: string, _body: unknown, _options?: PutOptions): Promise<{ size: number }> {
    throw new XComError('E_PERMISSION_DENIED', `Writing ${objectKey}: access denied`)
  }
}

describe('ObjectStoreXComBackend.check', () => {
  it('writes, reads back and deletes a probe, leaves nothing behind, and finds the prefix unclaimed', async () => {
    const root = join(tempDir(), 'objects')
    const store = new FileObjectStore({ root })
    const xcom = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store }),
    })
    const { ok, checks } = await xcom.check()
    expect(ok).toBe(true)
    expect(checks.map((check) => [check.name.replace(store.url, 'STORE'), check.ok])).toEqual([
      ['metadata database', true],
      ['object store STORE: write', true],
      ['object store STORE: read', true],
      ['object store STORE: delete', true],
      ['object store STORE: owner', true],
    ])
    expect(checks.at(-1)?.detail).toMatch(/^unclaimed/)
    expect(await collect(store.list(''))).toEqual([])
    expect(filesUnder(root).filter((file) => !file.startsWith('.xcom/'))).toEqual([])
  })

  it('says the prefix is claimed by this database after an offload', async () => {
    const store = new FileObjectStore({ root: tempDir() })
    const xcom = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store, threshold: 0 }),
    })
    await xcom.push({ dagId: 'd', runId: 'r', taskId: 't' }, 'big')
    const { ok, checks } = await xcom.check()
    expect(ok).toBe(true)
    expect(checks.at(-1)?.detail).toMatch(/^claimed by this database \(memory:\/\//)
  })

  it('fails, naming both databases, when another database claimed the prefix', async () => {
    const root = tempDir()
    const first = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 }),
    })
    await first.push({ dagId: 'd', runId: 'r', taskId: 't' }, 'big')
    const second = new XCom({
      metadata: new MemoryMetadataStore(),
      backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }) }),
    })
    const { ok, checks } = await second.check()
    expect(ok).toBe(false)
    const owner = checks.at(-1)
    expect(owner).toMatchObject({
      ok: false,
      code: 'E_CONFIG',
      fix: expect.stringContaining('its own prefix'),
    })
    expect(owner?.detail).toContain(`id ${(await first.metadata.identity()).id}`)
    expect(owner?.detail).toContain(`id ${(await second.metadata.identity()).id}`)
  })

  it('reports a store whose put is denied with its code and a fix, and checks no further', async () => {
    const backend = new ObjectStoreXComBackend({ store: new DeniedStore({ root: tempDir() }) })
    const checks = await backend.check({ database: await new MemoryMetadataStore().identity() })
    expect(checks).toEqual([
      {
        name: `object store ${backend.store.url}: write`,
        ok: false,
        code: 'E_PERMISSION_DENIED',
        detail: expect.stringMatching(/^E_PERMISSION_DENIED: /),
        fix: 'give the credentials of the connection permission to put, get and delete objects under the prefix',
      },
    ])
  })

  it('reports an unwritable root (a path through a file, so even root cannot write) as a failed write', async () => {
    const file = join(tempDir(), 'not-a-directory')
    writeFileSync(file, 'x')
    const store = new FileObjectStore({ root: join(file, 'objects') })
    const checks = await new ObjectStoreXComBackend({ store }).check({})
    expect(checks).toEqual([
      expect.objectContaining({
        name: `object store ${store.url}: write`,
        ok: false,
        detail: expect.stringContaining('cannot hold folders (ENOTDIR'),
        code: 'E_CONFIG',
        fix: expect.any(String),
      }),
    ])
  })

  it('checks the store without a database, skipping the owner', async () => {
    const root = tempDir()
    const store = new FileObjectStore({ root })
    await store.put(CLAIM_KEY, Buffer.from('{"databaseId":"other","database":"sqlite:///other.db"}'))
    const checks = await new ObjectStoreXComBackend({ store }).check({})
    expect(checks.map((check) => check.ok)).toEqual([true, true, true])
  })
})
