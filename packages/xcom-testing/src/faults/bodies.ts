import type { ByteSource, Bytes, GetOptions, ObjectBody } from '@xcom/core'

/**
 * A body whose bytes stop, cleanly, after the first `fraction` of them, while `size` still says the full size: what
 * a connection dropped mid-body looks like to a reader that does not count.
 */
export function truncatedBody(body: ObjectBody, fraction: number, range: GetOptions['range']): ObjectBody {
  return {
    ...infoOf(body),
    bytes: async () => {
      const bytes = await body.bytes()
      return bytes.slice(0, Math.floor(fraction * bytes.byteLength))
    },
    stream: () => transformed(body.stream(), Math.floor(fraction * expectedLength(body, range)), 'cut'),
  }
}

/** A body with one byte flipped, at `fraction` of its length: silent damage only a checksum finds. */
export function corruptedBody(body: ObjectBody, fraction: number, range: GetOptions['range']): ObjectBody {
  return {
    ...infoOf(body),
    bytes: async () => {
      const bytes = await body.bytes()
      if (bytes.byteLength > 0) flip(bytes, Math.floor(fraction * bytes.byteLength))
      return bytes
    },
    stream: () => transformed(body.stream(), Math.floor(fraction * expectedLength(body, range)), 'flip'),
  }
}

/**
 * Releases a body `put` will not read (a stream is cancelled, an iterator returned), so its producer never waits for
 * a reader that is gone.
 */
export async function discardSource(body: ByteSource, reason: unknown): Promise<void> {
  try {
    if (body instanceof ReadableStream) await body.cancel(reason)
    else if (!(body instanceof Uint8Array)) await body[Symbol.asyncIterator]().return?.()
  } catch {
    // A locked or already failed source has nothing more to release.
  }
}

function infoOf(body: ObjectBody) {
  return {
    objectKey: body.objectKey,
    size: body.size,
    lastModified: body.lastModified,
    metadata: body.metadata,
  }
}

/** How many bytes a read returns: `size` is the whole object's, even for a range. */
function expectedLength(body: ObjectBody, range: GetOptions['range']): number {
  if (range === undefined) return body.size
  const end = range.end === undefined ? body.size : Math.min(body.size, range.end + 1)
  return Math.max(0, end - range.start)
}

function flip(bytes: Bytes, at: number): void {
  bytes[at] = (bytes[at] as number) ^ 0xff
}

/** `source` cut after `at` bytes (`cut`), or with the byte at offset `at` flipped (`flip`). */
function transformed(source: ReadableStream<Bytes>, at: number, mode: 'cut' | 'flip'): ReadableStream<Bytes> {
  const reader = source.getReader()
  let offset = 0
  return new ReadableStream<Bytes>(
    {
      async pull(controller) {
        if (mode === 'cut' && offset >= at) {
          controller.close()
          await reader.cancel().catch(() => {})
          return
        }
        const { done, value } = await reader.read()
        if (done) {
          controller.close()
          return
        }
        const start = offset
        offset += value.byteLength
        if (mode === 'cut') controller.enqueue(offset > at ? value.slice(0, at - start) : value)
        else if (at >= start && at < offset) {
          const copy = value.slice()
          flip(copy, at - start)
          controller.enqueue(copy)
        } else controller.enqueue(value)
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
