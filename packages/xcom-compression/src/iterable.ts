import type { ByteSource, Bytes, Codec } from '@xcom/core'
import { readChunks, toReadableStream } from '@xcom/core/adapter'
import type { CodecDecompressOptions } from './types.ts'

/**
 * The source compressed with `codec`, as an async iterable of chunks (same bytes as `codec.compress`). The source is
 * a Uint8Array, a ReadableStream or a sync or async iterable of chunks, read one chunk at a time.
 * @throws XComError `E_CONFIG` for a source that is none of these.
 */
export function compressIterable(codec: Codec, source: ByteSource | Iterable<Bytes>): AsyncGenerator<Bytes> {
  return readChunks(toReadableStream(source).pipeThrough(codec.compressStream()))
}

/**
 * The source decompressed with `codec`, as an async iterable of chunks. Iteration throws the codec's XComError
 * (`E_CORRUPT`, `E_TOO_LARGE`...) instead of finishing when the data is bad or incomplete.
 * @throws XComError `E_CONFIG` for a source that is not bytes (as {@link compressIterable}).
 */
export function decompressIterable(
  codec: Codec,
  source: ByteSource | Iterable<Bytes>,
  options?: CodecDecompressOptions,
): AsyncGenerator<Bytes> {
  return readChunks(toReadableStream(source).pipeThrough(codec.decompressStream(options)))
}
