import type { Transform } from 'node:stream'
import type { Bytes } from '@xcom/core'
import { concatBytes } from '@xcom/core/adapter'
import { asBytes } from './bytes.ts'
import type { Failures } from './errors.ts'

/**
 * Where a transformer delivers its output. Pushing may throw (`E_TOO_LARGE` past the output limit); `wantsMore`
 * turns false when the consumer is behind, and the transformer should then wait for {@link Sink.waitForDemand}.
 */
export interface Sink {
  push(chunk: Bytes): void
  readonly wantsMore: boolean
  waitForDemand(): Promise<void>
}

/** One compression or decompression run, fed chunk by chunk. Every failure it throws is an XComError. */
export interface Transformer {
  write(chunk: Bytes): Promise<void> | void
  /** The input is complete: flush, and check that the data ended where the format says it must. */
  end(): Promise<void> | void
  /** Stop and release resources (the consumer went away, or the run failed). */
  destroy(reason: unknown): void
}

/** Makes the transformer of one run, delivering to `sink`. */
export type TransformerFactory = (sink: Sink, failures: Failures) => Transformer

/** A cap on the output size: past it, {@link Sink.push} throws `E_TOO_LARGE`. */
export interface OutputLimit {
  maxSize: number
}

/** Bytes of output the readable side of a stream buffers before it asks the transformer to wait. */
const READABLE_HIGH_WATER_MARK = 256 * 1024

class OutputSink implements Sink {
  private produced = 0
  private waiter: { resolve: () => void; reject: (reason: unknown) => void } | undefined
  private closedWith: { reason: unknown } | undefined
  private readonly deliver: (chunk: Bytes) => void
  private readonly desiredSize: () => number | null
  private readonly limit: OutputLimit | undefined
  private readonly failures: Failures

  constructor(
    deliver: (chunk: Bytes) => void,
    desiredSize: () => number | null,
    limit: OutputLimit | undefined,
    failures: Failures,
  ) {
    this.deliver = deliver
    this.desiredSize = desiredSize
    this.limit = limit
    this.failures = failures
  }

  push(chunk: Bytes): void {
    if (chunk.byteLength === 0) return
    this.produced += chunk.byteLength
    if (this.limit !== undefined && this.produced > this.limit.maxSize) {
      throw this.failures.tooLarge(this.limit.maxSize)
    }
    this.deliver(chunk)
  }

  get wantsMore(): boolean {
    return (this.desiredSize() ?? 0) > 0
  }

  waitForDemand(): Promise<void> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith.reason)
    if (this.wantsMore) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject }
    })
  }

  /** The consumer asked for more. */
  demand(): void {
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.resolve()
  }

  /** No more demand will come: fail whoever waits for it. */
  close(reason: unknown): void {
    this.closedWith = { reason }
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.reject(reason)
  }
}

/** Runs a transformer over one buffer and returns its whole output. */
export async function transformAll(
  create: TransformerFactory,
  data: Bytes,
  failures: Failures,
  limit?: OutputLimit,
): Promise<Bytes> {
  const chunks: Bytes[] = []
  const sink = new OutputSink(
    (chunk) => chunks.push(chunk),
    () => 1,
    limit,
    failures,
  )
  const transformer = create(sink, failures)
  try {
    if (data.byteLength > 0) await transformer.write(data)
    await transformer.end()
  } catch (error) {
    transformer.destroy(error)
    throw error
  }
  const result = concatBytes(chunks)
  // A lone chunk may be a view into a larger engine buffer: return an array of its own.
  return result.byteLength === result.buffer.byteLength || result === data ? result : result.slice()
}

/**
 * A web transform stream (a `{ writable, readable }` pair, as Node's own CompressionStream is) running one
 * transformer. Memory stays bounded: when the reader is behind, the transformer waits, and the writable side stops
 * accepting chunks. A failure errors both sides with the same XComError; the readable side closes only after the
 * transformer has checked that the data is complete, so a reader never takes truncated output for the whole value.
 */
export function codecStream(
  create: TransformerFactory,
  failures: Failures,
  limit?: OutputLimit,
): TransformStream<Bytes, Bytes> {
  let transformer!: Transformer
  let sink!: OutputSink
  let readableController!: ReadableStreamDefaultController<Bytes>
  let writableController!: WritableStreamDefaultController
  let settled = false
  const fail = (reason: unknown): void => {
    if (settled) return
    settled = true
    sink.close(reason)
    transformer.destroy(reason)
    readableController.error(reason)
    writableController.error(reason)
  }
  const readable = new ReadableStream<Bytes>(
    {
      start(controller) {
        readableController = controller
        sink = new OutputSink(
          (chunk) => controller.enqueue(chunk),
          () => controller.desiredSize,
          limit,
          failures,
        )
        transformer = create(sink, failures)
      },
      pull() {
        sink.demand()
      },
      cancel(reason) {
        if (settled) return
        settled = true
        sink.close(reason)
        transformer.destroy(reason)
        writableController.error(reason)
      },
    },
    { highWaterMark: READABLE_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
  )
  const writable = new WritableStream<Bytes>({
    start(controller) {
      writableController = controller
    },
    async write(chunk) {
      try {
        const bytes = asBytes(chunk, `${failures.codec} stream`)
        // Empty chunks carry nothing, and some engines (zstd) would change their output for them.
        if (bytes.byteLength > 0) await transformer.write(bytes)
      } catch (error) {
        fail(error)
        throw error
      }
    },
    async close() {
      try {
        await transformer.end()
      } catch (error) {
        fail(error)
        throw error
      }
      if (!settled) {
        settled = true
        readableController.close()
      }
    },
    abort(reason) {
      fail(reason)
    },
  })
  return { readable, writable }
}

/**
 * Drives a synchronous core (fflate-based) in slices, so that one huge input chunk neither produces one huge output
 * burst nor ignores the reader's pace.
 */
export class SlicedTransformer implements Transformer {
  private readonly core: { push(chunk: Bytes): void; finish(): void }
  private readonly sink: Sink
  private readonly toError: (error: unknown) => unknown
  private readonly sliceSize: number
  private destroyed: { reason: unknown } | undefined

  constructor(
    core: { push(chunk: Bytes): void; finish(): void },
    sink: Sink,
    toError: (error: unknown) => unknown,
    sliceSize: number,
  ) {
    this.core = core
    this.sink = sink
    this.toError = toError
    this.sliceSize = sliceSize
  }

  async write(chunk: Bytes): Promise<void> {
    for (let offset = 0; offset < chunk.byteLength; offset += this.sliceSize) {
      if (this.destroyed !== undefined) throw this.destroyed.reason
      try {
        this.core.push(chunk.subarray(offset, offset + this.sliceSize))
      } catch (error) {
        throw this.toError(error)
      }
      if (!this.sink.wantsMore) await this.sink.waitForDemand()
    }
  }

  end(): void {
    try {
      this.core.finish()
    } catch (error) {
      throw this.toError(error)
    }
  }

  destroy(reason: unknown): void {
    this.destroyed = { reason }
  }
}

/** A node:zlib compressor or decompressor stream. */
export type ZlibEngine = Transform & { bytesWritten: number }

/**
 * Drives a node:zlib engine (work runs on libuv's thread pool). When `exact` is set (decompression), every input
 * byte must belong to the compressed stream: data after its end is corruption, as is input that ends early.
 */
export class EngineTransformer implements Transformer {
  private readonly engine: ZlibEngine
  private readonly toError: (error: unknown) => unknown
  private readonly exact: boolean
  private readonly finished: Promise<void>
  private settle!: { resolve: () => void; reject: (error: unknown) => void }
  private waiting: { resolve: () => void; reject: (error: unknown) => void } | undefined
  private lastWrite: Promise<void> = Promise.resolve()
  private written = 0
  private ending = false
  private ended = false
  private failure: { error: unknown } | undefined

  constructor(engine: ZlibEngine, sink: Sink, toError: (error: unknown) => unknown, exact: boolean) {
    this.engine = engine
    this.toError = toError
    this.exact = exact
    this.finished = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject }
    })
    this.finished.catch(() => {})
    engine.on('data', (chunk: Uint8Array) => {
      try {
        sink.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      } catch (error) {
        this.destroy(error)
        return
      }
      if (!sink.wantsMore) {
        engine.pause()
        sink.waitForDemand().then(
          () => engine.resume(),
          () => {},
        )
      }
    })
    engine.once('end', () => {
      this.ended = true
      this.settle.resolve()
      this.release(this.waiting)
    })
    engine.once('error', (error) => this.fail(this.toError(error)))
    engine.once('close', () => {
      if (!this.ended) this.fail(this.toError(new Error('the compressor closed before the end of the data')))
    })
  }

  async write(chunk: Bytes): Promise<void> {
    this.throwIfUnusable()
    this.written += chunk.byteLength
    let accepted = true
    this.lastWrite = new Promise<void>((resolve, reject) => {
      accepted = this.engine.write(chunk, (error) => (error ? reject(this.toError(error)) : resolve()))
    })
    this.lastWrite.catch(() => {})
    if (!accepted) await this.wait(this.lastWrite)
  }

  async end(): Promise<void> {
    this.throwIfUnusable()
    // Let the engine take every chunk before ending it: node:zlib compresses a chunk still queued at end() with the
    // finishing flag, and then finishes once more, which makes zstd's output depend on timing.
    await this.wait(this.lastWrite)
    this.throwIfUnusable()
    this.ending = true
    this.engine.end()
    await this.finished
    if (this.exact && this.engine.bytesWritten !== this.written) this.throwTrailing()
  }

  destroy(reason: unknown): void {
    this.fail(reason)
    this.engine.destroy()
  }

  /** Waits for `promise`, unless the run fails or the engine ends first. One waiter at a time (writes are sequential). */
  private wait(promise: Promise<void>): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure.error)
    if (this.ended) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject }
      this.waiting = waiter
      promise.then(
        () => this.release(waiter),
        (error) => this.release(waiter, error),
      )
    })
  }

  private release(waiter: typeof this.waiting, error?: unknown): void {
    if (waiter === undefined || waiter !== this.waiting) return
    this.waiting = undefined
    if (this.failure !== undefined) waiter.reject(this.failure.error)
    else if (error !== undefined) waiter.reject(error)
    else waiter.resolve()
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return
    this.failure = { error }
    this.settle.reject(error)
    this.release(this.waiting)
  }

  private throwIfUnusable(): void {
    if (this.failure !== undefined) throw this.failure.error
    // The engine stopped before the input did: the rest is not part of the compressed stream.
    if (this.ended && !this.ending) this.throwTrailing()
  }

  private throwTrailing(): never {
    const error = this.toError(new Error('there is data after the end of the compressed stream'))
    this.fail(error)
    throw error
  }
}
