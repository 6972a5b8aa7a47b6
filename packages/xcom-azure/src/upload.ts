import { createHash, randomUUID } from 'node:crypto'
import type { BlockBlobClient, BlockBlobUploadOptions } from '@azure/storage-blob'
import { type ByteSource, XComError } from '@xcom/core'
import { byteChunks, concatBytes } from '@xcom/core/adapter'

/** Most blocks one block blob can have. */
export const MAX_BLOCKS = 50_000
/** Largest block the service accepts (4000 MiB). */
export const MAX_BLOCK_SIZE = 4000 * 1024 * 1024

/**
 * One block of an upload: views of the source's chunks, `length` bytes in all. Sent as one request body, its chunks
 * joined with `concatBytes` (measured faster than streaming them).
 */
export interface Block {
  parts: Uint8Array[]
  length: number
}

/** How {@link stageBlocks} cuts and sends a body. */
export interface Staging {
  blockSize: number
  /** Blocks in memory and in flight at once. */
  concurrency: number
  /** The error of a body over {@link MAX_BLOCKS} blocks, read `size` bytes so far. */
  tooLarge(size: number): XComError
}

/**
 * Stages `first` and the rest of `source` as blocks (each with its Content-MD5), `concurrency` at once, then commits
 * them in one block list. The first failure stops reading; blocks in flight are awaited before it is thrown, and
 * nothing is committed.
 */
export async function stageBlocks(
  blob: BlockBlobClient,
  first: Block,
  source: BlockReader,
  options: BlockBlobUploadOptions,
  staging: Staging,
): Promise<void> {
  const prefix = randomUUID()
  const ids: string[] = []
  const inFlight = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  let sent = 0
  try {
    for (
      let block: Block | undefined = first;
      block && !failure;
      block = await source.next(staging.blockSize)
    ) {
      if (ids.length === MAX_BLOCKS) throw staging.tooLarge(source.size)
      const id = Buffer.from(`${prefix}-${String(ids.length).padStart(6, '0')}`).toString('base64')
      ids.push(id)
      const { length } = block
      const body = concatBytes(block.parts)
      const task: Promise<void> = blob
        .stageBlock(id, body, length, {
          abortSignal: options.abortSignal,
          transactionalContentMD5: createHash('md5').update(body).digest(),
        })
        .then(
          () => {
            sent += length
            options.onProgress?.({ loadedBytes: sent })
          },
          (error: unknown) => {
            failure ??= { error }
          },
        )
        .finally(() => inFlight.delete(task))
      inFlight.add(task)
      if (inFlight.size >= staging.concurrency) await Promise.race(inFlight)
    }
  } finally {
    await Promise.all(inFlight)
  }
  if (failure) throw failure.error
  const { metadata, blobHTTPHeaders, conditions, abortSignal } = options
  await blob.commitBlockList(ids, { metadata, blobHTTPHeaders, conditions, abortSignal })
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
