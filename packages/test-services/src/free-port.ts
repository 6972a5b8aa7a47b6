import { createServer } from 'node:net'

/**
 * Finds a TCP port that is free on `host` right now, by listening on port 0 and closing again.
 * Another process may take the port before you bind it; prefer passing port 0 to a server when it supports that.
 *
 * @param host - the address to probe
 * @default host `'127.0.0.1'`
 * @returns a port number between 1024 and 65535
 * @throws Error when the operating system refuses to open a listening socket on `host`
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`No free port found on ${host}`))))
    })
  })
}

/**
 * Runs `listen` again while it fails with EADDRINUSE on a fixed `port`: one freed a moment ago (a restart on the same
 * port) can be refused briefly. Tries every 100 ms for about 3 s; other failures, and any failure on port 0 (the
 * operating system picks), are thrown at once.
 *
 * @param port - the port `listen` binds (`undefined` or 0: no retry)
 * @param listen - starts listening; it must clean up after itself when it fails
 * @returns what `listen` returned
 */
export async function listenRetrying<T>(port: number | undefined, listen: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await listen()
    } catch (error) {
      const busy = (port ?? 0) !== 0 && /EADDRINUSE/.test(String((error as Error)?.message ?? error))
      if (!busy || attempt >= 30) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
