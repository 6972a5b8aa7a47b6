import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { crc32cBase64, crc32cUpdate } from './crc32c.ts'
import { GcsError } from './http.ts'

/**
 * An immutable-by-convention list of byte chunks: large objects stay in the chunks they arrived in, and slices are
 * views, so a 300 MiB upload is never copied into one buffer.
 */
export class ChunkedBytes {
  /** The chunks, in order. */
  readonly chunks: Buffer[]
  /** Total length in bytes. */
  length: number

  constructor(chunks: Buffer[] = []) {
    this.chunks = chunks
    this.length = chunks.reduce((sum, chunk) => sum + chunk.length, 0)
  }

  /** Appends a chunk (not copied). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.length += chunk.length
  }

  /** The views covering `[start, end)`, in order. */
  *range(start = 0, end = this.length): Generator<Buffer> {
    let offset = 0
    for (const chunk of this.chunks) {
      const chunkEnd = offset + chunk.length
      if (chunkEnd > start && offset < end) {
        yield chunk.subarray(Math.max(0, start - offset), Math.min(chunk.length, end - offset))
      }
      offset = chunkEnd
      if (offset >= end) return
    }
  }

  /** A view of `[start, end)` sharing this list's memory. */
  slice(start: number, end = this.length): ChunkedBytes {
    return new ChunkedBytes([...this.range(start, end)])
  }

  /** A copy of `[start, end)` as one buffer; for small windows (multipart headers, tests). */
  copy(start = 0, end = this.length): Buffer {
    return Buffer.concat([...this.range(start, end)])
  }

  /** The GCS `crc32c` and `md5Hash` of the bytes (both base64). */
  hashes(): { crc32c: string; md5Hash: string } {
    let crc = 0
    const md5 = createHash('md5')
    for (const chunk of this.chunks) {
      crc = crc32cUpdate(crc, chunk)
      md5.update(chunk)
    }
    return { crc32c: crc32cBase64(crc), md5Hash: md5.digest('base64') }
  }
}

/**
 * Reads a request body into chunks.
 *
 * @throws GcsError 413 when the body exceeds `limit` bytes (announced or actual); 400 when the client aborts
 */
export function readBody(req: IncomingMessage, limit: number): Promise<ChunkedBytes> {
  const announced = Number(req.headers['content-length'] ?? Number.NaN)
  if (announced > limit) return Promise.reject(tooLarge(limit))
  return new Promise((resolve, reject) => {
    const body = new ChunkedBytes()
    const onData = (chunk: Buffer): void => {
      body.push(chunk)
      if (body.length > limit) {
        cleanup()
        reject(tooLarge(limit))
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve(body)
    }
    const onAbort = (): void => {
      cleanup()
      reject(new GcsError(400, 'invalid', 'The request body was not received completely.'))
    }
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onAbort)
      req.off('aborted', onAbort)
    }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onAbort)
    req.once('aborted', onAbort)
  })
}

function tooLarge(limit: number): GcsError {
  return new GcsError(
    413,
    'uploadTooLarge',
    `The request body exceeds this test server's limit of ${limit} bytes.`,
    {
      Connection: 'close',
    },
  )
}
