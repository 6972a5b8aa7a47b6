import type {
  ByteSource,
  GetOptions,
  IncompleteReport,
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  PutOptions,
} from '@xcom/core'
import { XComError } from '@xcom/core'
import { chunksOf } from './bytes.ts'
import { notFound } from './store-util.ts'

/** How many chunks the fastest replica may run ahead of the slowest while writing. */
const LEAD = 4

/**
 * An {@link ObjectStore} that keeps every object in several stores at once (the seed's "store in S3 and GCS at once").
 * Its objects have no layout of their own: each replica holds them under the same keys, in its own layout.
 *
 * - `put` streams the body to all replicas together (read once, at the pace of the slowest); if any write fails, the
 *   others are aborted, what was written is removed, and the first failure is thrown.
 * - `get` and `head` answer from the first replica that has the object.
 * - `deleteMany` deletes from all replicas; `list` lists the union of their keys.
 * - `replicas` lists the replicas in reading order, so a reader that finds one copy missing or damaged can read the
 *   next.
 */
export class ReplicatedObjectStore implements ObjectStore {
  /** `replicated(<url>, <url>, ...)`. */
  readonly url: string
  /** Ranges and conditional creates when every replica has them; the smallest maximum object size. */
  readonly capabilities: ObjectStore['capabilities']
  /** The replicas, in reading order: each holds every object. */
  readonly replicas: readonly ObjectStore[]

  /** @throws XComError `E_CONFIG` without at least one store. */
  constructor(stores: readonly ObjectStore[]) {
    if (!Array.isArray(stores) || stores.length === 0) {
      throw new XComError('E_CONFIG', 'new ReplicatedObjectStore([a, b, ...]) needs at least one store.')
    }
    this.replicas = [...stores]
    this.url = `replicated(${stores.map((store) => store.url).join(', ')})`
    const sizes = stores
      .map((store) => store.capabilities.maxObjectSize)
      .filter((size): size is number => size !== undefined)
    this.capabilities = {
      rangeReads: stores.every((store) => store.capabilities.rangeReads),
      conditionalCreate: stores.every((store) => store.capabilities.conditionalCreate),
      ...(sizes.length > 0 ? { maxObjectSize: Math.min(...sizes) } : {}),
    }
  }

  /**
   * Writes `body` to every replica. `onProgress` reports the first replica's progress.
   * @throws the first replica failure (after removing the object from the replicas that wrote it).
   */
  async put(objectKey: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const abort = new AbortController()
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal
    const fanOut = new FanOut(chunksOf(body), this.replicas.length)
    let failure: { error: unknown } | undefined
    const results = await Promise.allSettled(
      this.replicas.map(async (store, index) => {
        try {
          return await store.put(objectKey, fanOut.branch(index), {
            ...options,
            signal,
            onProgress: index === 0 ? options.onProgress : undefined,
          })
        } catch (error) {
          failure ??= { error }
          abort.abort(error)
          throw error
        } finally {
          fanOut.release(index)
        }
      }),
    )
    if (failure) {
      const written = this.replicas.filter((_, index) => results[index]?.status === 'fulfilled')
      await Promise.all(written.map((store) => store.deleteMany([objectKey]).catch(() => {})))
      throw failure.error
    }
    return (results[0] as PromiseFulfilledResult<{ size: number }>).value
  }

  /** @throws XComError `E_NOT_FOUND` when no replica has the key; otherwise the first replica's error. */
  async get(objectKey: string, options?: GetOptions): Promise<ObjectBody> {
    return this.#first(objectKey, (store) => store.get(objectKey, options))
  }

  /** The info of the first replica that has the object; undefined when none has it. */
  async head(objectKey: string): Promise<ObjectInfo | undefined> {
    return this.#first(objectKey, async (store) => {
      const info = await store.head(objectKey)
      if (!info) throw notFound(store.url, objectKey)
      return info
    }).catch((error: unknown) => {
      if (XComError.is(error, 'E_NOT_FOUND')) return undefined
      throw error
    })
  }

  /** Deletes from every replica; a key fails if any replica failed to delete it. */
  async deleteMany(
    objectKeys: readonly string[],
  ): Promise<{ failed: { objectKey: string; error: XComError }[] }> {
    const results = await Promise.all(this.replicas.map((store) => store.deleteMany(objectKeys)))
    const failed = new Map<string, XComError>()
    for (const result of results)
      for (const { objectKey, error } of result.failed)
        if (!failed.has(objectKey)) failed.set(objectKey, error)
    return { failed: [...failed].map(([objectKey, error]) => ({ objectKey, error })) }
  }

  /** Every key any replica holds under `prefix`, once, with the info of the first replica that lists it. */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>()
    for (const store of this.replicas) {
      for await (const info of store.list(prefix)) {
        if (seen.has(info.objectKey)) continue
        seen.add(info.objectKey)
        yield info
      }
    }
  }

  /** Asks every replica that can find leftovers of interrupted writes to remove them; the reports add up. */
  async removeIncomplete(startedBefore: Date): Promise<IncompleteReport> {
    const reports = await Promise.all(this.replicas.map((store) => store.removeIncomplete?.(startedBefore)))
    return {
      removed: reports.reduce((sum, report) => sum + (report?.removed ?? 0), 0),
      failed: reports.flatMap((report) => report?.failed ?? []),
    }
  }

  /** Closes every replica. */
  async close(): Promise<void> {
    await Promise.all(this.replicas.map((store) => store.close?.()))
  }

  /** The first replica's answer; when all fail, the first error other than "not found", else "not found". */
  async #first<T>(objectKey: string, read: (store: ObjectStore) => Promise<T>): Promise<T> {
    const errors: unknown[] = []
    for (const store of this.replicas) {
      try {
        return await read(store)
      } catch (error) {
        errors.push(error)
      }
    }
    throw errors.find((error) => !XComError.is(error, 'E_NOT_FOUND')) ?? notFound(this.url, objectKey)
  }
}

/**
 * Splits one chunk source into `count` iterables that see the same chunks. The source is read at the pace of the
 * slowest branch (at most {@link LEAD} chunks ahead), so memory stays bounded; a released branch no longer holds the
 * others back, and the source is returned when every branch is released.
 */
class FanOut {
  readonly #source: AsyncIterator<Uint8Array>
  readonly #positions: number[]
  readonly #active: boolean[]
  readonly #chunks = new Map<number, Uint8Array>()
  #produced = 0
  #ended = false
  #failure: { error: unknown } | undefined
  #pulling = false
  #waiting: (() => void)[] = []

  constructor(source: AsyncIterable<Uint8Array>, count: number) {
    this.#source = source[Symbol.asyncIterator]()
    this.#positions = new Array<number>(count).fill(0)
    this.#active = new Array<boolean>(count).fill(true)
  }

  branch(index: number): AsyncIterable<Uint8Array> {
    const iterator: AsyncIterator<Uint8Array> = {
      next: () => this.#next(index),
      return: async () => {
        this.release(index)
        return { done: true, value: undefined }
      },
    }
    return { [Symbol.asyncIterator]: () => iterator }
  }

  release(index: number): void {
    if (!this.#active[index]) return
    this.#active[index] = false
    this.#forget()
    this.#wake()
    if (!this.#active.includes(true) && !this.#ended) void this.#source.return?.().catch(() => {})
  }

  async #next(index: number): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      const position = this.#positions[index] as number
      if (!this.#active[index]) return { done: true, value: undefined }
      if (position < this.#produced) {
        this.#positions[index] = position + 1
        const chunk = this.#chunks.get(position) as Uint8Array
        this.#forget()
        this.#wake()
        return { done: false, value: chunk }
      }
      if (this.#failure) throw this.#failure.error
      if (this.#ended) return { done: true, value: undefined }
      if (!this.#pulling && this.#produced - this.#slowest() < LEAD) this.#pull()
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
  }

  #pull(): void {
    this.#pulling = true
    this.#source
      .next()
      .then(
        (next) => {
          if (next.done) this.#ended = true
          else this.#chunks.set(this.#produced++, next.value)
        },
        (error: unknown) => {
          this.#failure = { error }
        },
      )
      .finally(() => {
        this.#pulling = false
        this.#wake()
      })
  }

  #slowest(): number {
    let slowest = this.#produced
    this.#active.forEach((active, index) => {
      if (active) slowest = Math.min(slowest, this.#positions[index] as number)
    })
    return slowest
  }

  /** Drops chunks every active branch has read. */
  #forget(): void {
    const slowest = this.#slowest()
    for (const position of this.#chunks.keys()) {
      if (position >= slowest) break
      this.#chunks.delete(position)
    }
  }

  #wake(): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const resolve of waiting) resolve()
  }
}
