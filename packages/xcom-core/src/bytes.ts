import { Buffer } from 'node:buffer'
import type { ByteSource, Bytes, GetOptions } from './contracts.ts'
import { XComError } from './errors.ts'

/** The chunks of a web stream as an async iterable; stopping early cancels the stream and releases its lock. */
export async function* readChunks<T>(stream: ReadableStream<T>): AsyncGenerator<T, void, undefined> {
  const reader = stream.getReader()
  let finished = false
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) {
        finished = true
        return
      }
      yield value
    }
  } catch (error) {
    finished = true
    throw error
  } finally {
    if (!finished) await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
}

/** A plain Uint8Array view of the same memory (a Buffer stays a Buffer otherwise, and compares and prints as one). */
export function plainBytes(bytes: Uint8Array): Bytes {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A new Uint8Array of `size` bytes whose content is not zeroed first (the caller is about to overwrite it). */
export function allocateBytes(size: number): Bytes {
  return plainBytes(Buffer.allocUnsafeSlow(size))
}

/** Joins chunks into one buffer (the chunk itself when there is only one). */
export function concatBytes(chunks: readonly Uint8Array[]): Bytes {
  if (chunks.length === 1) return chunks[0] as Bytes
  let size = 0
  for (const chunk of chunks) size += chunk.byteLength
  const out = allocateBytes(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/**
 * A web stream of a source's bytes: a Uint8Array (one chunk; none when empty), a ReadableStream (returned as is), or
 * a sync or async iterable of chunks, pulled one chunk at a time and returned when the stream is cancelled.
 * `highWaterMark` is how many chunks the stream reads ahead (0: only when asked).
 * @throws XComError `E_CONFIG` for anything else.
 */
export function toReadableStream(
  source: ByteSource | Iterable<Bytes>,
  highWaterMark = 1,
): ReadableStream<Bytes> {
  if (source instanceof Uint8Array) {
    return new ReadableStream<Bytes>({
      start(controller) {
        if (source.byteLength > 0) controller.enqueue(source)
        controller.close()
      },
    })
  }
  if (source instanceof ReadableStream) return source
  const iterable = source as Partial<AsyncIterable<Bytes> & Iterable<Bytes>>
  const open = (iterable[Symbol.asyncIterator] ?? iterable[Symbol.iterator]) as
    | ((this: unknown) => AsyncIterator<Bytes> | Iterator<Bytes>)
    | undefined
  if (typeof open !== 'function') {
    throw new XComError(
      'E_CONFIG',
      'Expected bytes: a Uint8Array, a ReadableStream or an (async) iterable of them.',
    )
  }
  const iterator = open.call(source)
  return new ReadableStream<Bytes>(
    {
      async pull(controller) {
        const next = await iterator.next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      async cancel(reason) {
        await iterator.return?.(reason)
      },
    },
    { highWaterMark },
  )
}

/** Any {@link ByteSource} as an async iterable of chunks: bytes give one chunk (none when empty). */
export async function* byteChunks(source: ByteSource): AsyncGenerator<Bytes, void, undefined> {
  if (source instanceof Uint8Array) {
    if (source.byteLength > 0) yield source
  } else if (source instanceof ReadableStream) {
    yield* readChunks(source)
  } else {
    yield* source
  }
}

/**
 * Checks a `range` option of {@link ObjectStore.get}: `start` >= 0, `end` (inclusive) >= `start`.
 * @returns the range, `end` undefined meaning "to the end"; undefined when no range was given.
 * @throws XComError `E_INVALID_KEY` naming `uri` for a negative, reversed or non-integer range.
 */
export function checkRange(
  range: GetOptions['range'],
  uri: string,
): { start: number; end: number | undefined } | undefined {
  if (range === undefined) return undefined
  const { start, end } = range
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (end !== undefined && (!Number.isSafeInteger(end) || end < start))
  ) {
    throw new XComError(
      'E_INVALID_KEY',
      `Invalid range ${JSON.stringify(range)} reading ${uri}: use { start >= 0, end >= start } (end inclusive).`,
      { uri },
    )
  }
  return { start, end }
}

/**
 * The byte span `[start, end)` a `range` option selects in an object of `size` bytes (the option's `end` is
 * inclusive; a range past the end is cut at the end; no range is the whole object).
 * @throws XComError `E_INVALID_KEY` naming `uri` for a negative, reversed or non-integer range.
 */
export function resolveRange(
  range: GetOptions['range'],
  size: number,
  uri: string,
): { start: number; end: number } {
  const checked = checkRange(range, uri)
  if (!checked) return { start: 0, end: size }
  const { start, end } = checked
  return { start: Math.min(start, size), end: Math.min(end === undefined ? size : end + 1, size) }
}
