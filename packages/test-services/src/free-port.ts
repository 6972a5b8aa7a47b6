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
