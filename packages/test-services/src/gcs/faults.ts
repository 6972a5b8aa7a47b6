import type { IncomingMessage } from 'node:http'
import { readBody } from './bytes.ts'
import { GcsError } from './http.ts'

/** A fault to inject into the next matching requests (see `GcsServerHandle.failNext`). */
export interface FaultRule {
  /**
   * Only requests with this method (case-insensitive).
   * @default any method
   */
  method?: string
  /**
   * Only requests whose target (path and query, as sent or percent-decoded) contains this text,
   * e.g. `'uploadType=multipart'`, `'upload_id='`, `'/o/dir%2Fa.txt'`.
   * @default any path
   */
  pathIncludes?: string
  /**
   * The HTTP status to answer with (Google error JSON body). Ignored when `reset` is true.
   * @default 503
   */
  status?: number
  /**
   * How many matching requests to fail.
   * @default 1
   */
  times?: number
  /**
   * Drop the connection instead of answering (the client sees ECONNRESET).
   * @default false
   */
  reset?: boolean
  /**
   * Also apply a retryable status (408, 429, 5xx) to `alt=media` downloads. Off by default because
   * @google-cloud/storage 8.4 on Node 24 crashes the process (uncaught ERR_STREAM_UNABLE_TO_PIPE) when it retries a
   * media GET after such a status; `reset: true` faults are safe there and always apply.
   * @default false
   */
  includeMediaDownloads?: boolean
}

/** The live state of one injected fault. */
export interface Fault {
  /** How many requests this fault has answered so far. */
  readonly hits: number
  /** How many more matching requests it will fail. */
  readonly remaining: number
}

interface ActiveFault {
  rule: FaultRule
  hits: number
  remaining: number
}

/** The statuses the SDK retries. */
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504])

/** The reason GCS gives for a status, so an injected error looks like a real one. */
const REASONS: Record<number, string> = {
  401: 'required',
  403: 'forbidden',
  404: 'notFound',
  408: 'requestTimeout',
  409: 'conflict',
  412: 'conditionNotMet',
  429: 'rateLimitExceeded',
}

/** The pending faults of one server, checked in the order they were added; a request consumes at most one. */
export class FaultInjector {
  readonly #faults: ActiveFault[] = []

  /** Adds a fault; the returned view follows its hits. */
  add(rule: FaultRule = {}): Fault {
    const fault: ActiveFault = { rule: { ...rule }, hits: 0, remaining: rule.times ?? 1 }
    this.#faults.push(fault)
    return {
      get hits() {
        return fault.hits
      },
      get remaining() {
        return fault.remaining
      },
    }
  }

  /** Removes every pending fault. */
  clear(): void {
    this.#faults.length = 0
  }

  /**
   * Applies the first matching fault, if any, after reading the request body: a client that is answered before it
   * has sent its body sees a broken pipe rather than the status under test.
   *
   * @returns true when the connection was dropped (nothing more to answer), false when no fault matched
   * @throws GcsError with the fault's status
   */
  async intercept(req: IncomingMessage, query: URLSearchParams): Promise<boolean> {
    const rule = this.#take(req, query)
    if (!rule) return false
    await readBody(req, Number.POSITIVE_INFINITY).catch(() => undefined)
    if (!rule.reset) throw injectedError(rule.status ?? 503)
    req.socket.destroy()
    return true
  }

  #take(req: IncomingMessage, query: URLSearchParams): FaultRule | undefined {
    const target = req.url ?? '/'
    const mediaGet = req.method === 'GET' && query.get('alt') === 'media'
    let decodedTarget = target
    try {
      decodedTarget = decodeURIComponent(target)
    } catch {}
    for (const fault of this.#faults) {
      const { rule } = fault
      if (fault.remaining === 0) continue
      if (rule.method !== undefined && rule.method.toUpperCase() !== req.method) continue
      if (
        rule.pathIncludes !== undefined &&
        !target.includes(rule.pathIncludes) &&
        !decodedTarget.includes(rule.pathIncludes)
      ) {
        continue
      }
      if (mediaGet && !rule.reset && !rule.includeMediaDownloads && RETRYABLE.has(rule.status ?? 503))
        continue
      fault.remaining--
      fault.hits++
      return rule
    }
    return undefined
  }
}

function injectedError(status: number): GcsError {
  const reason = REASONS[status] ?? (status >= 500 ? 'backendError' : 'invalid')
  return new GcsError(status, reason, `Injected fault (test server failNext): HTTP ${status}.`)
}
