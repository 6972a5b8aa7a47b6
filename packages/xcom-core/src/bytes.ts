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
