import type { IncomingMessage, ServerResponse } from 'node:http'

/** An error answered in the Google JSON error shape, with a numeric `error.code` the SDK reads. */
export class GcsError extends Error {
  readonly status: number
  readonly reason: string
  readonly headers: Record<string, string>

  constructor(status: number, reason: string, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.reason = reason
    this.headers = headers
  }
}

/** Sends a JSON body with an exact Content-Length. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': String(Buffer.byteLength(text)),
  })
  res.end(text)
}

/** Sends a response without a body (and without a JSON Content-Type, which the SDK would try to parse). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': '0' })
  res.end()
}

/** Sends `{"error":{"code","message","errors":[{message,domain,reason}]}}` (304 gets no body). */
export function sendError(res: ServerResponse, error: GcsError): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (error.status === 304) {
    sendEmpty(res, 304, error.headers)
    return
  }
  sendJson(
    res,
    error.status,
    {
      error: {
        code: error.status,
        message: error.message,
        errors: [{ message: error.message, domain: 'global', reason: error.reason }],
      },
    },
    error.headers,
  )
}

/** 405 for a method the route exists for but does not take. */
export function methodNotAllowed(req: IncomingMessage): GcsError {
  return new GcsError(405, 'methodNotAllowed', `Method ${req.method} is not allowed on ${pathOf(req)}`)
}

/** 501 for a GCS feature this server leaves out (listed in the package README). */
export function notImplemented(req: IncomingMessage, what = `${req.method} ${pathOf(req)}`): GcsError {
  return new GcsError(
    501,
    'notImplemented',
    `${what} is not implemented by the xcom GCS test server (see @xcom/test-services README).`,
  )
}

/** 413 for an object larger than the server's `maxObjectSize`, found after its body was read. */
export function objectTooLarge(limit: number): GcsError {
  return new GcsError(413, 'uploadTooLarge', `The object exceeds this test server's limit of ${limit} bytes.`)
}

function pathOf(req: IncomingMessage): string | undefined {
  return req.url?.split('?')[0]
}
