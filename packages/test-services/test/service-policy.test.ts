import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort, isCi, requireServiceOrSkip } from '../src/index.ts'

describe('requireServiceOrSkip', () => {
  const failing = () => Promise.reject(new Error('port in use'))

  it('returns the handle when the service starts', async () => {
    await expect(requireServiceOrSkip('ok', async () => 42, { ci: true })).resolves.toBe(42)
  })

  it('fails under CI, naming the service and keeping the cause', async () => {
    const error = await requireServiceOrSkip('azurite', failing, { ci: true }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toMatch(/"azurite" could not start \(port in use\).*CI=true/)
    expect((error as Error).cause).toMatchObject({ message: 'port in use' })
  })

  it('warns loudly and returns undefined outside CI', async () => {
    const warnings: string[] = []
    const result = await requireServiceOrSkip('s3rver', failing, { ci: false, warn: (m) => warnings.push(m) })
    expect(result).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/SKIPPING tests that need "s3rver".*port in use/s)
  })

  it('reads CI=true or CI=1 from the environment', () => {
    expect(isCi({ CI: 'true' })).toBe(true)
    expect(isCi({ CI: '1' })).toBe(true)
    expect(isCi({ CI: 'false' })).toBe(false)
    expect(isCi({})).toBe(false)
  })
})

describe('freePort', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort()
    expect(port).toBeGreaterThan(0)
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', resolve)
    })
    await new Promise((resolve) => server.close(resolve))
  })
})
