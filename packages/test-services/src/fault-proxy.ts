import { once } from 'node:events'
import { createServer, type IncomingMessage, request } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The answer a fault gives instead of forwarding. */
export interface FaultAnswer {
  status: number
  headers?: Record<string, string>
  body?: string
}

/** An HTTP proxy in front of a local service that answers the next matching requests itself (see `failNext`). */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, to use as the store's endpoint. */
  endpoint: string
  /** Answers the next `times` requests matching `match` with `answer` instead of forwarding them. */
  failNext(times: number, answer: FaultAnswer, match?: (request: IncomingMessage) => boolean): void
  /** How many requests were answered by a fault. */
  readonly failed: number
  stop(): Promise<void>
}

/**
 * Starts a proxy forwarding every request to `target` (an `http://host:port` origin) unchanged, path and headers
 * included, so signatures still match. A failed request's body is read in full before the answer: the client sees a
 * clean response, not a reset, and retries deterministically.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target)
  let remaining = 0
  let failed = 0
  let answer: FaultAnswer = { status: 503 }
  let match: (request: IncomingMessage) => boolean = () => true
  const server = createServer((incoming, outgoing) => {
    if (remaining > 0 && match(incoming)) {
      remaining -= 1
      failed += 1
      incoming.resume()
      incoming.on('end', () => {
        outgoing.writeHead(answer.status, answer.headers ?? {})
        outgoing.end(answer.body ?? '')
      })
      return
    }
    const forwarded = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers)
        response.pipe(outgoing)
      },
    )
    forwarded.on('error', () => outgoing.destroy())
    incoming.pipe(forwarded)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failNext(times, given, predicate = () => true) {
      remaining = times
      answer = given
      match = predicate
    },
    get failed() {
      return failed
    },
    async stop() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
