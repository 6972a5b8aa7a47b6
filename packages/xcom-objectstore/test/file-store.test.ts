import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { XComError } from '@xcom/core'
import { expectXComError, randomBytes, sourceNodeFlags } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { fileError } from '../src/file-io.ts'
import { FileObjectStore } from '../src/index.ts'
import { collect, filesUnder, fileXCom, objectFiles, refOf, tempDir, tmpFiles } from './helpers.ts'

describe('FileObjectStore', () => {
  it('lays out objects as plain files with a sidecar of metadata, and a file:// url', async () => {
    const parent = tempDir()
    const root = join(parent, 'my store')
    const store = new FileObjectStore({ root })
    expect(store.url).toBe(pathToFileURL(root).href)
    expect(store.url).toContain('my%20store')
    await store.put('a/b/c.json', Buffer.from('{"x":1}'), {
      metadata: { xcomformat: 'json' },
      contentType: 'application/json',
    })
    expect(readFileSync(join(root, 'a/b/c.json'), 'utf8')).toBe('{"x":1}')
    expect(JSON.parse(readFileSync(join(root, '.xcom/meta/a/b/c.json'), 'utf8'))).toEqual({
      metadata: { xcomformat: 'json' },
      contentType: 'application/json',
    })
    expect(filesUnder(root)).toEqual(['.xcom/meta/a/b/c.json', 'a/b/c.json'])
    expect((await collect(store.list(''))).map((info) => info.objectKey)).toEqual(['a/b/c.json'])
  })

  it('refuses keys that could leave the root, writing nothing anywhere', async () => {
    const parent = tempDir()
    const root = join(parent, 'root')
    const store = new FileObjectStore({ root })
    const bad = [
      '',
      '../escape',
      'a/../../escape',
      '/absolute',
      'a//b',
      'a/',
      './a',
      'a/./b',
      'a/..',
      'nul\0byte',
      '.xcom/meta/x',
      '.xcom',
    ]
    for (const key of bad) {
      await expectXComError(store.put(key, randomBytes(4)), 'E_INVALID_KEY')
      await expectXComError(store.get(key), 'E_INVALID_KEY')
      await expectXComError(store.head(key), 'E_INVALID_KEY')
      const { failed } = await store.deleteMany([key])
      expect(failed.map((failure) => failure.error.code)).toEqual(['E_INVALID_KEY'])
    }
    expect(filesUnder(parent).filter((path) => !path.startsWith('root/.xcom/tmp'))).toEqual([])
    expect(await collect(store.list('../'))).toEqual([])
  })

  it('serves names that only look like traversal as ordinary keys inside the root', async () => {
    const root = tempDir()
    const store = new FileObjectStore({ root })
    for (const key of ['..a', 'a..', '...', '%2e%2e/x', '.hidden/..dots']) {
      await store.put(key, randomBytes(3))
      expect(existsSync(join(root, key))).toBe(true)
    }
    // A backslash is refused on every store: URL parsers read it as "/" (no key xcom builds holds one).
    await expectXComError(store.put('back\\slash', randomBytes(3)), 'E_INVALID_KEY')
    expect(readdirSync(dirname(root)).filter((name) => name === '..a')).toEqual([])
  })

  it('hides a write in progress, then shows the whole object at once', async () => {
    const root = tempDir()
    const store = new FileObjectStore({ root })
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let halfway!: () => void
    const reachedHalfway = new Promise<void>((resolve) => {
      halfway = resolve
    })
    async function* body() {
      yield randomBytes(1000, 1)
      halfway()
      await gate
      yield randomBytes(1000, 2)
    }
    const writing = store.put('k', body())
    await reachedHalfway
    expect(await store.head('k')).toBeUndefined()
    expect(tmpFiles(root)).toHaveLength(1)
    release()
    await writing
    expect((await store.head('k'))?.size).toBe(2000)
    expect(tmpFiles(root)).toEqual([])
  })

  it('prunes directories left empty by deletes, and keeps shared ones', async () => {
    const root = tempDir()
    const store = new FileObjectStore({ root })
    await store.put('a/b/c/one', randomBytes(1))
    await store.put('a/b/two', randomBytes(1))
    await store.deleteMany(['a/b/c/one'])
    expect(filesUnder(root)).toEqual(['.xcom/meta/a/b/two', 'a/b/two'])
    expect(existsSync(join(root, 'a/b/c'))).toBe(false)
    await store.deleteMany(['a/b/two'])
    expect(existsSync(join(root, 'a'))).toBe(false)
    expect(existsSync(join(root, '.xcom/meta/a'))).toBe(false)
    expect(existsSync(root)).toBe(true)
    await store.put('a/b/again', randomBytes(1))
    expect((await store.head('a/b/again'))?.size).toBe(1)
  })

  it('never fails a put because a concurrent delete of a sibling pruned the shared directory (in process)', async () => {
    const root = tempDir()
    const store = new FileObjectStore({ root })
    const failures: string[] = []
    for (let round = 0; round < 30; round++) {
      // Deleting a missing key still prunes its empty directories: deleters keep removing the directories the puts
      // are placing their files into, while each put's own task deletes its key again once it has read it back.
      let writing = true
      const deleters = Array.from({ length: 8 }, async (_, index) => {
        while (writing) {
          const { failed } = await store.deleteMany([
            `a/${index % 2}/b/c/gone-${index}`,
            `a/${index % 2}/b/d/gone`,
          ])
          expect(failed).toEqual([])
        }
      })
      const keys = Array.from({ length: 16 }, (_, index) => `a/${index % 2}/b/c/${round}-${index}`)
      await Promise.all(
        keys.map(async (key, index) => {
          try {
            await store.put(key, randomBytes(16, index + 1), { metadata: { n: String(index) } })
            const body = await store.get(key)
            expect([await body.bytes(), body.metadata]).toEqual([
              randomBytes(16, index + 1),
              { n: String(index) },
            ])
          } catch (error) {
            failures.push(`${key}: ${(error as Error).message}`)
          }
          expect((await store.deleteMany([key])).failed).toEqual([])
        }),
      )
      writing = false
      await Promise.all(deleters)
    }
    expect(failures).toEqual([])
    expect(filesUnder(root)).toEqual([])
  })

  it('never fails a put because another process pruned the shared directory (4 child processes)', async () => {
    const root = tempDir()
    const fixtures = resolve(import.meta.dirname, 'fixtures')
    const run = (name: string) =>
      new Promise<{ puts: number; failures: string[] }>((done, fail) => {
        const child = spawn(
          process.execPath,
          [
            ...sourceNodeFlags(),
            '--no-warnings',
            resolve(fixtures, 'put-delete-child.ts'),
            root,
            name,
            '150',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        )
        let stdout = ''
        let stderr = ''
        child.stdout.on('data', (data: Buffer) => {
          stdout += data
        })
        child.stderr.on('data', (data: Buffer) => {
          stderr += data
        })
        child.on('error', fail)
        child.on('close', (code) => {
          if (code === 0) done(JSON.parse(stdout.trim().split('\n').at(-1) as string))
          else fail(new Error(`child ${name} exited with ${code}: ${stderr}`))
        })
      })
    const results = await Promise.all(['p0', 'p1', 'p2', 'p3'].map(run))
    expect(results.flatMap((result) => result.failures)).toEqual([])
    expect(results.map((result) => result.puts)).toEqual([1200, 1200, 1200, 1200])
    expect(objectFiles(root)).toEqual([])
  }, 60_000)

  it('reads a whole object or a range straight into one buffer, showing each part while the next is read', async () => {
    const store = new FileObjectStore({ root: tempDir() })
    const MiB = 1024 * 1024
    const bytes = randomBytes(20 * MiB + 5, 7)
    await store.put('big', bytes)
    const parts: Uint8Array[] = []
    const read = await (await store.get('big')).bytesObserved((part) => parts.push(part))
    expect(parts.map((part) => part.byteLength)).toEqual([8 * MiB, 8 * MiB, 4 * MiB + 5])
    expect(parts.every((part) => part.buffer === read.buffer)).toBe(true)
    expect(Buffer.from(read).equals(bytes)).toBe(true)
    expect(Buffer.from(await (await store.get('big')).bytes()).equals(bytes)).toBe(true)
    const ranged: Uint8Array[] = []
    const range = await (await store.get('big', { range: { start: 5, end: 9 * MiB } })).bytesObserved(
      (part) => ranged.push(part),
    )
    expect(ranged.map((part) => part.byteLength)).toEqual([8 * MiB, MiB - 4])
    expect(Buffer.from(range).equals(bytes.subarray(5, 9 * MiB + 1))).toBe(true)
  })

  it('ends a read with the error its observer throws', async () => {
    const store = new FileObjectStore({ root: tempDir() })
    await store.put('k', randomBytes(17 * 1024 * 1024))
    const body = await store.get('k')
    await expect(
      body.bytesObserved(() => {
        throw new Error('observer failed')
      }),
    ).rejects.toThrow('observer failed')
    expect((await store.deleteMany(['k'])).failed).toEqual([])
  })

  it('lists files put there by hand, with empty metadata, and survives a broken sidecar', async () => {
    const root = tempDir()
    mkdirSync(join(root, 'manual'), { recursive: true })
    writeFileSync(join(root, 'manual', 'file.txt'), 'hand made')
    const store = new FileObjectStore({ root })
    await store.put('manual/broken', randomBytes(2), { metadata: { a: 'b' } })
    writeFileSync(join(root, '.xcom/meta/manual/broken'), '{not json')
    const infos = await collect(store.list('manual/'))
    expect(infos.map((info) => [info.objectKey, info.size, info.metadata])).toEqual([
      ['manual/broken', 2, {}],
      ['manual/file.txt', 9, {}],
    ])
    expect(Buffer.from(await (await store.get('manual/file.txt')).bytes()).toString()).toBe('hand made')
  })

  it('treats a key that is a directory of other keys as missing, and a write over it as an invalid key', async () => {
    const store = new FileObjectStore({ root: tempDir() })
    await store.put('dir/child', randomBytes(1))
    expect(await store.head('dir')).toBeUndefined()
    await expectXComError(store.get('dir'), 'E_NOT_FOUND')
    await expectXComError(store.put('dir', randomBytes(1)), 'E_INVALID_KEY')
    await expectXComError(store.put('dir/child/grandchild', randomBytes(1)), 'E_INVALID_KEY')
    expect((await store.head('dir/child'))?.size).toBe(1)
  })

  it('maps file-system errors to XComError codes naming the URI, and passes other errors through', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: something`), { code, syscall: 'open' })
    const cases: [string, string][] = [
      ['EACCES', 'E_PERMISSION_DENIED'],
      ['EPERM', 'E_PERMISSION_DENIED'],
      ['EROFS', 'E_PERMISSION_DENIED'],
      ['ENOENT', 'E_NOT_FOUND'],
      ['ENAMETOOLONG', 'E_INVALID_KEY'],
      ['ENOSPC', 'E_BACKEND'],
      ['EIO', 'E_BACKEND'],
    ]
    for (const [code, expected] of cases) {
      const mapped = fileError(errno(code), 'Writing', 'file:///root/key') as XComError
      expect(XComError.is(mapped, expected as XComError['code']), code).toBe(true)
      expect(mapped.uri).toBe('file:///root/key')
      expect(mapped.message).toContain('Writing file:///root/key failed')
    }
    const own = new Error('the body failed')
    expect(fileError(own, 'Writing', 'file:///root/key')).toBe(own)
  })

  it('writes durably with fsync when asked', async () => {
    const store = new FileObjectStore({ root: tempDir(), fsync: true })
    await store.put('durable', randomBytes(10_000))
    expect((await store.head('durable'))?.size).toBe(10_000)
  })

  it("names objects by file: URIs that lead to their files, however the XCom's identifiers are encoded", async () => {
    const root = join(tempDir(), 'my store')
    const { xcom, store } = fileXCom({ store: new FileObjectStore({ root }) })
    const identity = { dagId: 'd é%20', runId: 'r#1?', taskId: 't', mapIndex: -1 }
    const record = await xcom.push(identity, { x: 1 })
    const ref = refOf(record)
    expect(ref.objectKey).toContain('%') // the identifiers are percent-encoded into the key
    expect(fileURLToPath(ref.uri)).toBe(join(root, ref.objectKey))
    expect(existsSync(fileURLToPath(ref.uri))).toBe(true)
    const missing = `${ref.objectKey}.gone`
    const error = await store.get(missing).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(XComError)
    expect(fileURLToPath((error as XComError).uri as string)).toBe(join(root, missing))
  })

  it('fails with E_NOT_FOUND when an object disappears between get and read', async () => {
    const store = new FileObjectStore({ root: tempDir() })
    await store.put('vanishing', randomBytes(10))
    const body = await store.get('vanishing')
    await store.deleteMany(['vanishing'])
    await expectXComError(body.bytes(), 'E_NOT_FOUND')
  })

  it('needs a root', () => {
    expect(() => new FileObjectStore({ root: '' })).toThrowError(
      expect.objectContaining({ code: 'E_CONFIG' }),
    )
  })
})
