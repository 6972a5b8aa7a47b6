import { type ByteSource, XComError } from '@xcom/core'
import { byteChunks } from '@xcom/core/adapter'

/** One block of an upload: views of the source's chunks, `length` bytes in all. */
export interface Block {
  parts: Uint8Array[]
  length: number
}

/** The bytes of a block as one request body: the chunk itself, or its chunks copied together (measured faster than streaming them). */
export function bodyOfBlock(block: Block): Uint8Array {
  return block.parts.length === 1 ? (block.parts[0] as Uint8Array) : Buffer.concat(block.parts, block.length)
}

/**
 * Reads a byte source as blocks of a given size, counting bytes and remembering the source's own error (so it is
 * rethrown as is, not mapped as an Azure error).
 */
export class BlockReader {
  /** Bytes read so far. */
  size = 0
  /** The source's own error, if it failed. */
  error: unknown
  #ended = false
  #leftover: Uint8Array | undefined
  readonly #iterator: AsyncIterator<Uint8Array>
  readonly #signal: AbortSignal | undefined

  constructor(body: ByteSource, signal: AbortSignal | undefined) {
    this.#iterator = chunksOf(body)[Symbol.asyncIterator]()
    this.#signal = signal
  }

  /** The chunks of the next `blockSize` bytes (fewer at the end), or undefined once the source is exhausted. */
  async next(blockSize: number): Promise<Block | undefined> {
    const parts: Uint8Array[] = []
    let length = 0
    while (length < blockSize) {
      let chunk = this.#leftover ?? (await this.#read())
      this.#leftover = undefined
      if (chunk === undefined) break
      if (chunk.byteLength > blockSize - length) {
        this.#leftover = chunk.subarray(blockSize - length)
        chunk = chunk.subarray(0, blockSize - length)
      }
      parts.push(chunk)
      length += chunk.byteLength
    }
    return length === 0 ? undefined : { parts, length }
  }

  /** True when no byte is left (reads ahead one chunk to know). */
  async done(): Promise<boolean> {
    this.#leftover ??= await this.#read()
    return this.#leftover === undefined
  }

  /** Stops reading early: the source's iterator is returned, so its own cleanup runs. Never rejects. */
  async close(): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    await this.#iterator.return?.(undefined).catch(() => {})
  }

  async #read(): Promise<Uint8Array | undefined> {
    if (this.#ended) return undefined
    let result: IteratorResult<Uint8Array>
    try {
      this.#signal?.throwIfAborted()
      result = await this.#iterator.next()
    } catch (error) {
      this.error = error
      throw error
    }
    if (result.done) {
      this.#ended = true
      return undefined
    }
    this.size += result.value.byteLength
    return result.value
  }
}

/** The chunks of a byte source; string chunks (a Node stream with an encoding) are taken as UTF-8. */
async function* chunksOf(body: ByteSource): AsyncGenerator<Uint8Array> {
  const isByteSource =
    body instanceof Uint8Array ||
    body instanceof ReadableStream ||
    typeof (body as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function'
  if (!isByteSource) {
    throw new XComError(
      'E_NOT_SERIALIZABLE',
      'An object body must be a Uint8Array, a ReadableStream or an AsyncIterable of Uint8Array.',
    )
  }
  // Typed as unknown: a JavaScript caller's iterable may yield anything.
  for await (const chunk of byteChunks(body) as AsyncIterable<unknown>) {
    if (chunk instanceof Uint8Array) {
      if (chunk.byteLength > 0) yield chunk
    } else if (typeof chunk === 'string') {
      if (chunk !== '') yield Buffer.from(chunk, 'utf8')
    } else {
      throw new XComError(
        'E_NOT_SERIALIZABLE',
        `An object body yielded a ${typeof chunk} chunk: only Uint8Array chunks can be stored.`,
      )
    }
  }
}
