import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BlobServiceClient } from '@azure/storage-blob'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AzuriteHandle, requireServiceOrSkip, startAzurite } from '../src/index.ts'
import { expectCleanStop } from './stop.ts'

let azurite: AzuriteHandle | undefined

beforeAll(async () => {
  azurite = await requireServiceOrSkip('azurite', () => startAzurite())
})
afterAll(() => azurite?.stop())

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('startAzurite', () => {
  it('answers on the blob endpoint with XML', async (ctx) => {
    if (!azurite) return ctx.skip()
    expect(azurite.blobEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/)
    expect(azurite.connectionString).toContain(`BlobEndpoint=${azurite.blobEndpoint};`)
    const response = await fetch(`${azurite.blobEndpoint}?comp=list`)
    expect([200, 403]).toContain(response.status)
    expect(await response.text()).toMatch(/^(\uFEFF)?<\?xml/)
  })

  it('leaves no process and no directory after stop()', async (ctx) => {
    const own = await requireServiceOrSkip('azurite', () => startAzurite())
    if (!own) return ctx.skip()
    expect(isAlive(own.pid)).toBe(true)
    await expectCleanStop(own, own.location, `${own.blobEndpoint}?comp=list`)
    expect(isAlive(own.pid)).toBe(false)
  })

  it('does not outlive a test runner that is killed without calling stop()', async (ctx) => {
    if (!azurite) return ctx.skip() // azurite cannot start here: the policy already warned or failed
    const source = fileURLToPath(new URL('../src/azurite.ts', import.meta.url))
    const script = `const { startAzurite } = await import(${JSON.stringify(source)});
      const handle = await startAzurite();
      console.log(JSON.stringify({ pid: handle.pid, location: handle.location }));
      setInterval(() => {}, 1000);`
    const runner = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const started = await new Promise<{ pid: number; location: string }>((resolve, reject) => {
      let output = ''
      runner.stdout.on('data', (data: Buffer) => {
        output += data.toString()
        const line = output.split('\n').find((l) => l.startsWith('{'))
        if (line) resolve(JSON.parse(line))
      })
      runner.once('exit', (code) => reject(new Error(`runner exited early with ${code}: ${output}`)))
    })
    try {
      expect(isAlive(started.pid)).toBe(true)
      runner.kill('SIGKILL')
      for (let i = 0; i < 100 && isAlive(started.pid); i++) await new Promise((r) => setTimeout(r, 100))
      expect(isAlive(started.pid)).toBe(false)
    } finally {
      if (isAlive(started.pid)) process.kill(started.pid, 'SIGKILL')
      await rm(started.location, { recursive: true, force: true })
    }
  })

  it('creates containers, and restarts on the same port with the same location, which stop() keeps', async (ctx) => {
    if (!azurite) return ctx.skip()
    const location = await mkdtemp(join(tmpdir(), 'xcom-azurite-test-'))
    try {
      const first = await startAzurite({ location, containers: ['kept'] })
      let second: AzuriteHandle | undefined
      try {
        const blob = BlobServiceClient.fromConnectionString(first.connectionString)
          .getContainerClient('kept')
          .getBlockBlobClient('key.txt')
        await blob.upload('survives', 8)
        await first.stop()
        expect(isAlive(first.pid)).toBe(false)
        // azurite's metadata file is kept (blobs surviving a restart: the reliability suite's azurite scenario)
        expect(readdirSync(location)).toContain('__azurite_db_blob__.json')
        // the same containers again: kept, not refused as existing
        second = await startAzurite({
          port: Number(new URL(first.blobEndpoint).port),
          location,
          containers: ['kept'],
        })
        expect(second.blobEndpoint).toBe(first.blobEndpoint)
        expect((await blob.downloadToBuffer()).toString()).toBe('survives')
      } finally {
        await first.stop()
        await second?.stop()
      }
      expect(existsSync(location)).toBe(true)
    } finally {
      await rm(location, { recursive: true, force: true })
    }
  }, 60_000)
})
