/*
 * MemoryObjectStore layout: one Map in process memory from key to { bytes, metadata, lastModified }.
 * Bytes are copied in when written and out when read, so no caller can change a stored object by mutating a buffer.
 * `list` walks the keys in code-unit order, one page at a time, like a bucket listing.
 */
import type {
  ByteSource,
  GetOptions,
  ObjectBody,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  XComError,
} from '@xcom/core'
import { checkObjectKey, concatBytes, resolveRange, toReadableStream } from '@xcom/core/adapter'
import { chunksOf } from './bytes.ts'
import { alreadyExists, notFound, uriOf } from './store-util.ts'

/** Options of {@link MemoryObjectStore}. */
export interface MemoryObjectStoreOptions {
  /** The bucket name shown in the store's URL (`memory://<bucket>/<prefix>`). @default "default" */
  bucket?: string
  /** The prefix shown in the store's URL; keys are stored as given. @default "" */
  prefix?: string
  /** How many keys `list` reads per page. @default 1000 */
  pageSize?: number
  /** The clock that stamps `lastModified`. @default () => new Date() */
  now?: () => Date
}

interface MemoryObject {
  bytes: Uint8Array
  metadata: Record<string, string>
  lastModified: Date
}

/**
 * An {@link ObjectStore} in process memory, for tests, demos and single-process pipelines (`memory://bucket/prefix`).
 * Everything is lost when the process ends.
 */
export class MemoryObjectStore implements ObjectStore {
  /** `memory://<bucket>[/<prefix>]`. */
  readonly url: string
  /** Range reads and conditional creates are supported. */
  readonly capabilities = { rangeReads: true, conditionalCreate: true } as const
  readonly #objects = new Map<string, MemoryObject>()
  readonly #pageSize: number
  readonly #now: () => Date

  constructor(options: MemoryObjectStoreOptions = {}) {
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '')
    this.url = `memory://${options.bucket ?? 'default'}${prefix ? `/${prefix}` : ''}`
    this.#pageSize = Math.max(1, options.pageSize ?? 1000)
    this.#now = options.now ?? (() => new Date())
  }

  /**
   * Stores the bytes of `body` under `key` once the body has been read to its end.
   * @throws XComError `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the key exists; the body's own error or the
   * abort reason otherwise (nothing is stored then).
   */
  async put(objectKey: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    checkObjectKey(this.url, objectKey)
    options.signal?.throwIfAborted()
    const chunks: Uint8Array[] = []
    let size = 0
    for await (const chunk of chunksOf(body)) {
      options.signal?.throwIfAborted()
      chunks.push(chunk.slice())
      size += chunk.byteLength
      options.onProgress?.(size)
    }
    options.signal?.throwIfAborted()
    if (options.ifNoneMatch && this.#objects.has(objectKey)) throw alreadyExists(this.url, objectKey)
    this.#objects.set(objectKey, {
      bytes: chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks),
      metadata: { ...options.metadata },
      lastModified: this.#now(),
    })
    return { size }
  }

  /** @throws XComError `E_NOT_FOUND` naming the URI when the key does not exist. */
  async get(objectKey: string, options: GetOptions = {}): Promise<ObjectBody> {
    const object = this.#objects.get(checkObjectKey(this.url, objectKey))
    if (!object) throw notFound(this.url, objectKey)
    const { start, end } = resolveRange(options.range, object.bytes.byteLength, uriOf(this.url, objectKey))
    const bytes = object.bytes.slice(start, end)
    return { ...infoOf(objectKey, object), stream: () => toReadableStream(bytes), bytes: async () => bytes }
  }

  /** The object's info; undefined when the key does not exist. */
  async head(objectKey: string): Promise<ObjectInfo | undefined> {
    const object = this.#objects.get(checkObjectKey(this.url, objectKey))
    return object && infoOf(objectKey, object)
  }

  /** Missing keys are not failures. */
  async deleteMany(
    objectKeys: readonly string[],
  ): Promise<{ failed: { objectKey: string; error: XComError }[] }> {
    const failed: { objectKey: string; error: XComError }[] = []
    for (const objectKey of objectKeys) {
      try {
        this.#objects.delete(checkObjectKey(this.url, objectKey))
      } catch (error) {
        failed.push({ objectKey, error: error as XComError })
      }
    }
    return { failed }
  }

  /** Every object whose key starts with `prefix`, in key order, a page at a time. */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let after: string | undefined
    for (;;) {
      const page = [...this.#objects.keys()]
        .filter((objectKey) => objectKey.startsWith(prefix) && (after === undefined || objectKey > after))
        .sort()
        .slice(0, this.#pageSize)
      for (const objectKey of page) {
        const object = this.#objects.get(objectKey)
        if (object) yield infoOf(objectKey, object)
      }
      if (page.length < this.#pageSize) return
      after = page.at(-1)
    }
  }
}

function infoOf(objectKey: string, object: MemoryObject): ObjectInfo {
  return {
    objectKey,
    size: object.bytes.byteLength,
    lastModified: new Date(object.lastModified),
    metadata: { ...object.metadata },
  }
}
