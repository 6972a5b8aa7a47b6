/**
 * A TCP proxy that can take a service "down" and bring it back on the same port: `down()` resets every open
 * connection and stops listening (clients see ECONNRESET, then ECONNREFUSED), `up()` listens again. The service
 * behind keeps its data, which the test-services launchers cannot do across a stop and start (see README).
 */
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'

/** A running {@link startOutageProxy}. */
export interface OutageProxy {
  /** `http://127.0.0.1:PORT`: the endpoint clients use instead of the service's own. */
  readonly endpoint: string
  readonly port: number
  /** Resets every connection and stops listening. */
  down(): Promise<void>
  /** Listens again on the same port. */
  up(): Promise<void>
  /** How many outages there were, and how many connections they reset. */
  readonly outages: number
  readonly resets: number
  stop(): Promise<void>
}

/** Starts a proxy on 127.0.0.1 forwarding every connection to `targetPort`. */
export async function startOutageProxy(targetPort: number): Promise<OutageProxy> {
  const sockets = new Set<Socket>()
  let outages = 0
  let resets = 0
  let port = 0
  const make = (): Server =>
    createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1')
      sockets.add(client).add(upstream)
      const drop = (): void => {
        sockets.delete(client)
        sockets.delete(upstream)
        client.destroy()
        upstream.destroy()
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      client.pipe(upstream).pipe(client)
    })
  let server: Server | undefined = make()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as { port: number }).port
  const down = async (): Promise<void> => {
    if (!server) return
    outages++
    const closing = server
    server = undefined
    const closed = once(closing, 'close')
    closing.close()
    for (const socket of sockets) {
      resets++
      socket.resetAndDestroy()
    }
    sockets.clear()
    await closed
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    down,
    async up() {
      if (server) return
      const next = make()
      // The port may sit in TIME_WAIT briefly; listening again is retried for a few seconds.
      for (let attempt = 0; ; attempt++) {
        try {
          next.listen(port, '127.0.0.1')
          await once(next, 'listening')
          break
        } catch (error) {
          if (attempt >= 50) throw error
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      server = next
    },
    get outages() {
      return outages
    },
    get resets() {
      return resets
    },
    stop: down,
  }
}
