import type { ByteSource, Bytes, Codec } from '@xcom/core'
import { XComError } from '@xcom/core'
import { readChunks } from '@xcom/core/adapter'
import type { CodecDecompressOptions } from './types.ts'

/**
 * A web ReadableStream of the source's bytes: a Uint8Array (one chunk), a ReadableStream (returned as is), or a
 * sync or async iterable of Uint8Array chunks (read lazily, one chunk per pull).
 * @throws XComError `E_CONFIG` for anything else.
 */
export function toReadableStream(source: ByteSource | Iterable<Bytes>): ReadableStream<Bytes> {
  if (source instanceof Uint8Array) {
    return new ReadableStream<Bytes>({
      start(controller) {
        if (source.byteLength > 0) controller.enqueue(source)
        controller.close()
      },
    })
  }
  if (typeof (source as ReadableStream<Bytes>).getReader === 'function')
    return source as ReadableStream<Bytes>
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
  return new ReadableStream<Bytes>({
    async pull(controller) {
      const next = await iterator.next()
      if (next.done) controller.close()
      else controller.enqueue(next.value)
    },
    async cancel(reason) {
      await iterator.return?.(reason)
    },
  })
}

/** The source compressed with `codec`, as an async iterable of chunks (same bytes as `codec.compress`). */
export function compressIterable(codec: Codec, source: ByteSource | Iterable<Bytes>): AsyncGenerator<Bytes> {
  return readChunks(toReadableStream(source).pipeThrough(codec.compressStream()))
}

/**
 * The source decompressed with `codec`, as an async iterable of chunks. Iteration throws the codec's XComError
 * (`E_CORRUPT`, `E_TOO_LARGE`...) instead of finishing when the data is bad or incomplete.
 */
export function decompressIterable(
  codec: Codec,
  source: ByteSource | Iterable<Bytes>,
  options?: CodecDecompressOptions,
): AsyncGenerator<Bytes> {
  return readChunks(toReadableStream(source).pipeThrough(codec.decompressStream(options)))
}
