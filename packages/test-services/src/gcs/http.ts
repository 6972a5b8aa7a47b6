import type { ServerResponse } from 'node:http'

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
