import type { Bytes, ObjectBody, ObjectInfo } from '@xcom/core'
import { XComError } from '@xcom/core'

/** An {@link ObjectBody} over downloaded chunks, read once, as a stream or as bytes. */
export function bodyOf(info: ObjectInfo, chunks: AsyncGenerator<Uint8Array>): ObjectBody {
  let taken = false
  const take = (): AsyncGenerator<Uint8Array> => {
    if (taken)
      throw new XComError(
        'E_BACKEND',
        `The body of ${info.key} was already read: call stream() or bytes() once.`,
      )
    taken = true
    return chunks
  }
  return {
    ...info,
    stream: () => webStreamOf(take()),
    bytes: async () => {
      const parts: Uint8Array[] = []
      for await (const chunk of take()) parts.push(chunk)
      return concat(parts)
    },
  }
}

/** A web stream of plain Uint8Array chunks, pulled on demand; cancelling stops the downloads. */
function webStreamOf(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Bytes> {
  return new ReadableStream<Bytes>(
    {
      async pull(controller) {
        const { done, value } = await chunks.next()
        if (done) controller.close()
        else controller.enqueue(plain(value))
      },
      async cancel() {
        await chunks.return(undefined)
      },
    },
    { highWaterMark: 0 },
  )
}

/** Every chunk of a downloaded body. */
export async function collectChunks(stream: NodeJS.ReadableStream | undefined): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream ?? []) chunks.push(chunk as Uint8Array)
  return chunks
}

/**
 * Downloads ranges in order, at most `concurrency` ahead of the reader: each range is buffered whole, so memory stays
 * `concurrency` ranges. Nothing starts before the first `next()`; `stop()` starts nothing more.
 */
export class Prefetch {
  readonly #ranges: [number, number][]
  readonly #fetch: (range: [number, number]) => Promise<Uint8Array[]>
  readonly #concurrency: number
  readonly #queue: Promise<Uint8Array[]>[] = []
  #next = 0
  #stopped = false

  constructor(
    ranges: [number, number][],
    fetch: (range: [number, number]) => Promise<Uint8Array[]>,
    concurrency: number,
  ) {
    this.#ranges = ranges
    this.#fetch = fetch
    this.#concurrency = concurrency
  }

  /** Starts fetching, without waiting: called while the first block is still streaming. */
  start(): void {
    while (!this.#stopped && this.#queue.length < this.#concurrency && this.#next < this.#ranges.length) {
      const pending = this.#fetch(this.#ranges[this.#next++] as [number, number])
      pending.catch(() => {}) // awaited in order by next(); never an unhandled rejection meanwhile
      this.#queue.push(pending)
    }
  }

  /** The next range's chunks in order, or undefined after the last. @throws its download error */
  async next(): Promise<Uint8Array[] | undefined> {
    this.start()
    const pending = this.#queue.shift()
    if (!pending) return undefined
    const chunks = await pending
    this.start()
    return chunks
  }

  /** Starts no more downloads (the reader stopped); those in flight finish and are dropped. */
  stop(): void {
    this.#stopped = true
  }
}

/** A plain Uint8Array view of the same memory (a Buffer would compare unequal to a Uint8Array). */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Joins chunks into one plain buffer (a view of the chunk itself when there is only one). */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 0) return new Uint8Array(0)
  if (chunks.length === 1) return plain(chunks[0] as Uint8Array)
  let size = 0
  for (const chunk of chunks) size += chunk.byteLength
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
