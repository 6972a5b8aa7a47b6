import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort, listenRetrying } from '../src/free-port.ts'

const busy = () =>
  Object.assign(new Error('listen EADDRINUSE: address already in use'), { code: 'EADDRINUSE' })

describe('listenRetrying', () => {
  it('tries again while a fixed port is busy, and returns what listening returned', async () => {
    let calls = 0
    const result = await listenRetrying(4569, async () => {
      calls++
      if (calls < 3) throw busy()
      return 'listening'
    })
    expect(result).toBe('listening')
    expect(calls).toBe(3)
  })

  it('throws at once for port 0 and for any other failure', async () => {
    let calls = 0
    await expect(
      listenRetrying(0, async () => {
        calls++
        throw busy()
      }),
    ).rejects.toThrow(/EADDRINUSE/)
    await expect(
      listenRetrying(4569, async () => {
        calls++
        throw new Error('EACCES')
      }),
    ).rejects.toThrow('EACCES')
    expect(calls).toBe(2)
  })

  it('listens on a port once the process holding it lets go', async () => {
    const port = await freePort()
    const holder = createServer().listen(port, '127.0.0.1')
    await new Promise((resolve) => holder.once('listening', resolve))
    setTimeout(() => holder.close(), 250)
    const server = createServer()
    await listenRetrying(
      port,
      () =>
        new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject)
            resolve()
          })
        }),
    )
    expect(server.listening).toBe(true)
    await new Promise((resolve) => server.close(resolve))
  })
})
