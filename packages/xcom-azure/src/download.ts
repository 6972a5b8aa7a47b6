import type { Readable } from 'node:stream'
import type { BlobClient, BlobDownloadResponseParsed } from '@azure/storage-blob'
import { type ObjectBody, type ObjectInfo, XComError } from '@xcom/core'
import { concatBytes, plainBytes, toReadableStream } from '@xcom/core/adapter'
import { decodeMetadata } from './metadata.ts'

/** What {@link readBlob} needs of the store. */
export interface BlobRead {
  /** The key the body names. */
  objectKey: string
  /** The range `checkRange` accepted (`end` inclusive, undefined: to the end), or undefined for the whole blob. */
  range: { start: number; end: number | undefined } | undefined
  blockSize: number
  /** Ranges read ahead of the reader. */
  concurrency: number
  /** Resumptions of a download whose stream breaks. */
  maxRetries: number
  signal: AbortSignal | undefined
  /** Maps an SDK error of this read. */
  fail(error: unknown): XComError
}

/**
 * Opens a blob for reading, streamed as it is consumed: the first `blockSize` bytes from one request, the rest as
 * ranges of `blockSize` read up to `concurrency` ahead, each pinned to the first response's ETag.
 * @throws XComError of the first request, mapped by `read.fail` (its `cause` keeps the HTTP status); the abort reason.
 */
export async function readBlob(blob: BlobClient, read: BlobRead): Promise<ObjectBody> {
  const { blockSize, signal, fail } = read
  const offset = read.range?.start ?? 0
  const count = read.range?.end === undefined ? undefined : read.range.end - offset + 1
  const download = async (start: number, length: number, etag?: string) => {
    try {
      return await blob.download(start, length, {
        abortSignal: signal,
        maxRetryRequests: read.maxRetries,
        conditions: etag ? { ifMatch: etag } : {},
      })
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      throw fail(error)
    }
  }
  const first: BlobDownloadResponseParsed = await download(offset, Math.min(count ?? blockSize, blockSize))
  const size = Number(/\/(\d+)$/.exec(first.contentRange ?? '')?.[1] ?? first.contentLength ?? 0)
  const end = count === undefined ? size : Math.min(size, offset + count)
  const ranges: [number, number][] = []
  for (let start = offset + (first.contentLength ?? 0); start < end; start += blockSize) {
    ranges.push([start, Math.min(blockSize, end - start)])
  }
  const info: ObjectInfo = {
    objectKey: read.objectKey,
    size,
    lastModified: first.lastModified ?? new Date(0),
    metadata: decodeMetadata(first.metadata),
  }
  const fetchRange = async ([start, length]: [number, number]) => {
    const response = await download(start, length, first.etag)
    try {
      return await collectChunks(response.readableStreamBody)
    } catch (error) {
      throw fail(error)
    }
  }
  const ahead = new Prefetch(ranges, fetchRange, read.concurrency)
  const stream = first.readableStreamBody as Readable | undefined
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      ahead.start()
      try {
        for await (const chunk of stream ?? []) yield plainBytes(chunk as Uint8Array)
      } catch (error) {
        throw fail(error)
      }
      for (let block = await ahead.next(); block; block = await ahead.next()) yield* block
    } finally {
      ahead.stop()
      stream?.destroy()
    }
  }
  return bodyOf(info, chunks())
}

/** An {@link ObjectBody} over downloaded chunks (plain Uint8Arrays), read once, as a stream or as bytes. */
export function bodyOf(info: ObjectInfo, chunks: AsyncGenerator<Uint8Array>): ObjectBody {
  let taken = false
  const take = (): AsyncGenerator<Uint8Array> => {
    if (taken)
      throw new XComError(
        'E_BACKEND',
        `The body of ${info.objectKey} was already read: call stream() or bytes() once.`,
      )
    taken = true
    return chunks
  }
  return {
    ...info,
    // Pulled on demand (no read-ahead): cancelling stops the downloads.
    stream: () => toReadableStream(take(), 0),
    bytes: async () => {
      const parts: Uint8Array[] = []
      for await (const chunk of take()) parts.push(chunk)
      return concatBytes(parts)
    },
  }
}

/** Every chunk of a downloaded body, as plain Uint8Arrays. */
async function collectChunks(stream: NodeJS.ReadableStream | undefined): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream ?? []) chunks.push(plainBytes(chunk as Uint8Array))
  return chunks
}

/**
 * Downloads ranges in order, at most `concurrency` ahead of the reader: each range is buffered whole, so memory stays
 * `concurrency` ranges. Nothing starts before the first `next()`; `stop()` starts nothing more.
 */
class Prefetch {
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
