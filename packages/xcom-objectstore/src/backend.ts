import {
  BaseXComBackend,
  type BaseXComBackendOptions,
  type Bytes,
  type Codec,
  type Env,
  type EnvSetting,
  type ObjectInfo,
  type ObjectStore,
  readXComConfig,
  type StoredValue,
  type SweepContext,
  type SweepReport,
  type XComContext,
  XComError,
  type XComReference,
} from '@xcom/core'
import {
  type BackendEnvContext,
  EnvConnectionResolver,
  importModule,
  malformedValue,
  readChunks,
} from '@xcom/core/adapter'
import {
  type BinaryValue,
  chunksOf,
  concat,
  type Expected,
  hashing,
  isBinaryValue,
  plainBytes,
  readHead,
  readVerified,
  readVerifiedText,
  sized,
  streamFrom,
  streamOf,
  utf8Slices,
  verifying,
} from './bytes.ts'
import {
  algorithmOf,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumOf,
  isChecksumAlgorithm,
} from './checksum.ts'
import { DATABASE_META, PrefixClaim } from './claim.ts'
import { objectKey } from './keys.ts'
import { ReplicatedObjectStore } from './replicated-store.ts'
import { uriOf } from './store-util.ts'
import { sweepStore } from './sweep.ts'
import { objectStoreFromUrl } from './url.ts'

/** Bytes of a stream value compressed on trial to decide whether compressing the whole stream is worth it. */
const COMPRESSION_SAMPLE = 1024 * 1024
/** JSON text larger than this is encoded slice by slice while it is written, instead of into one buffer first. */
const TEXT_SLICING_FROM = 8 * 1024 * 1024
/** Values held in memory and stored in at most this many bytes are hashed before the upload. */
const HASH_FIRST_UP_TO = 8 * 1024 * 1024
/** The default {@link ObjectStoreXComBackendOptions.maxValueSize}: 2 GiB. */
export const DEFAULT_MAX_VALUE_SIZE = 2 ** 31

/** Options of {@link ObjectStoreXComBackend}. */
export interface ObjectStoreXComBackendOptions extends BaseXComBackendOptions {
  /** Where values larger than the threshold go. */
  store: ObjectStore
  /**
   * Values whose size is at most this many bytes stay in the metadata database; larger ones go to the store. The size
   * is that of the serialized JSON text in UTF-8, or the byte count of a binary value, before compression. -1 keeps
   * everything in the database; 0 sends everything but empty values to the store.
   * @default -1
   */
  threshold?: number
  /**
   * Compress stored objects with this codec (e.g. `gzip()` from `@xcom/compression`); a codec named `none` means no
   * compression. @default no compression
   */
  compression?: Codec
  /**
   * Keep a value compressed only when `compressedSize / size` is at most this ratio (0.9: compression must save at
   * least 10%, the rule of `@xcom/compression`'s `compressIfWorthIt`); otherwise the value is stored uncompressed and
   * its reference records `compressionSkipped`. Stream values decide on their first MiB. From 0 (exclusive) to 1.
   * @default 0.9
   */
  minCompressionRatio?: number
  /**
   * Refuse values larger than this many bytes (before compression) with `E_TOO_LARGE`, on push and on pull; a
   * reference recording a larger size is refused before anything is downloaded, so a forged size cannot make a read
   * inflate without bound. Raise it (up to `Infinity`) for larger streamed values.
   * @default 2 GiB ({@link DEFAULT_MAX_VALUE_SIZE})
   */
  maxValueSize?: number
  /**
   * The checksum new references record (reads verify whichever one a reference names). `crc32` detects accidental
   * damage at about 5 GB/s; `sha256` (about 1.8 GB/s) also pins the content, so that someone who can write to the
   * bucket but not to the metadata database cannot swap an object unnoticed. See {@link ChecksumAlgorithm}.
   * @default 'crc32'
   */
  checksum?: ChecksumAlgorithm
  /** The clock the sweep compares object ages with. @default () => new Date() */
  now?: () => Date
}

/** The reference {@link ObjectStoreXComBackend} writes in the metadata database for a value held in the store. */
export interface ObjectReference extends XComReference {
  /** `<store url>/<key>`. */
  uri: string
  /** The object's key, relative to the store. */
  objectKey: string
  /** Size of the value in bytes, before compression. */
  size: number
  /** Size of the object in bytes, as stored. */
  storedSize: number
  /** The codec name, or `"none"`. */
  codec: string
  /** `json`: UTF-8 JSON text from the serializer; `bytes`: a binary value's raw bytes. */
  format: 'json' | 'bytes'
  /** `crc32:<8 hex digits>` or `sha256:<64 hex digits>` of the stored bytes. */
  checksum: string
  /** When the object was written (ISO 8601). */
  createdAt: string
  /** The configured codec that was not used because it did not shrink this value enough. */
  compressionSkipped?: string
  /**
   * True when the JSON text holds no envelope (nothing in the value needed encoding): once its checksum matches, it is
   * read back with `JSON.parse` alone, skipping the decoding walk.
   */
  plainJson?: boolean
}

/** Object metadata names (lowercase ASCII letters only, accepted by every store). Identity values are percent-encoded. */
const META = {
  dagId: 'xcomdagid',
  runId: 'xcomrunid',
  taskId: 'xcomtaskid',
  mapIndex: 'xcommapindex',
  key: 'xcomkey',
  recordId: 'xcomrecordid',
  format: 'xcomformat',
  codec: 'xcomcodec',
  size: 'xcomsize',
  checksum: 'xcomchecksum',
  createdAt: 'xcomcreatedat',
} as const

interface Upload {
  format: 'json' | 'bytes'
  codec: Codec | undefined
  compressionSkipped: string | undefined
  /** The JSON text holds no envelope. */
  plainJson?: boolean
}

/**
 * The object storage backend: values up to `threshold` bytes stay in the metadata database, larger ones go to an
 * {@link ObjectStore} under `<dagId>/<runId>/<taskId>/<mapIndex>/<key>/<recordId>.<json|bin>[.<codec>]`, behind a
 * typed, checksummed {@link ObjectReference}. Binary values (Uint8Array, Buffer, Blob, web streams, async iterables)
 * are stored as raw bytes and streamed; they are pulled back as a Uint8Array (or as a stream with `xcom.pullStream`).
 * Replaced and cleared values are purged; `xcom.gc()` sweeps what no row references.
 */
export class ObjectStoreXComBackend extends BaseXComBackend {
  /** Where large values go. */
  readonly store: ObjectStore
  /** See {@link ObjectStoreXComBackendOptions.threshold}. */
  readonly threshold: number
  /** The codec new objects are compressed with, if any. */
  readonly compression: Codec | undefined
  /** See {@link ObjectStoreXComBackendOptions.minCompressionRatio}. */
  readonly minCompressionRatio: number
  /** See {@link ObjectStoreXComBackendOptions.maxValueSize}. */
  readonly maxValueSize: number
  /** See {@link ObjectStoreXComBackendOptions.checksum}. */
  readonly checksum: ChecksumAlgorithm
  readonly #now: () => Date
  readonly #codecs = new Map<string, Promise<Codec>>()
  readonly #claim: PrefixClaim

  /** @throws XComError `E_CONFIG` for a missing store or an invalid threshold, ratio, maximum size or checksum. */
  constructor(options: ObjectStoreXComBackendOptions) {
    super(options)
    const {
      store,
      threshold = -1,
      compression,
      minCompressionRatio = 0.9,
      maxValueSize = DEFAULT_MAX_VALUE_SIZE,
      checksum = 'crc32',
    } = options ?? {}
    const fail = (why: string): never => {
      throw new XComError('E_CONFIG', `new ObjectStoreXComBackend(...): ${why}.`)
    }
    if (!store || typeof store.put !== 'function' || typeof store.get !== 'function')
      fail('`store` must be an ObjectStore, e.g. new FileObjectStore({ root })')
    if (!Number.isSafeInteger(threshold) || threshold < -1)
      fail('`threshold` must be an integer >= -1 (-1: everything inline, 0: everything in the store)')
    if (
      compression !== undefined &&
      (typeof compression.compress !== 'function' || typeof compression.name !== 'string')
    )
      fail('`compression` must be a Codec, e.g. gzip() from @xcom/compression')
    if (typeof minCompressionRatio !== 'number' || !(minCompressionRatio > 0 && minCompressionRatio <= 1))
      fail('`minCompressionRatio` must be a number in (0, 1], e.g. 0.9')
    if (
      !(
        maxValueSize === Number.POSITIVE_INFINITY ||
        (Number.isSafeInteger(maxValueSize) && maxValueSize >= 0)
      )
    )
      fail('`maxValueSize` must be a size in bytes')
    if (!isChecksumAlgorithm(checksum))
      fail(`\`checksum\` must be one of ${Object.keys(CHECKSUM_ALGORITHMS).join(', ')}`)
    this.store = store
    this.threshold = threshold
    this.compression = compression?.name === 'none' ? undefined : compression
    this.minCompressionRatio = minCompressionRatio
    this.maxValueSize = maxValueSize
    this.checksum = checksum
    this.#now = options.now ?? (() => new Date())
    this.#claim = new PrefixClaim(store)
  }

  /**
   * Builds the backend from XCOM_OBJECTSTORAGE_PATH, _THRESHOLD and _COMPRESSION (or their AIRFLOW__COMMON_IO__
   * spellings) and XCOM_OBJECTSTORAGE_CHECKSUM; `XCom.fromEnv` calls it. A codec name needs `@xcom/compression`, imported only then.
   * @throws XComError `E_CONFIG` naming the variable at fault (or the package to install); `E_UNKNOWN_SCHEME` naming the
   * adapter package a URL needs.
   */
  static async fromEnv<T extends ObjectStoreXComBackend>(
    this: new (
      options: ObjectStoreXComBackendOptions,
    ) => T,
    env: Env = process.env,
    context: Partial<BackendEnvContext> = {},
  ): Promise<T> {
    const config = context.config ?? readXComConfig(env)
    const path = config.objectStoragePath
    if (!path) {
      throw new XComError(
        'E_CONFIG',
        'The object storage backend needs XCOM_OBJECTSTORAGE_PATH (or AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH), e.g. file:///var/lib/xcom or s3://my_conn@my-bucket/xcom.',
      )
    }
    const threshold = parseThreshold(config.objectStorageThreshold)
    const compression = await codecFromSetting(config.objectStorageCompression)
    const checksum = parseChecksum(config.objectStorageChecksum)
    const store = await objectStoreFromUrl(path.value, {
      connections: context.connections ?? new EnvConnectionResolver(env),
      source: path.variable,
    })
    return new this({ store, threshold, compression, checksum })
  }

  /**
   * Keeps the value inline when its size is at most the threshold; otherwise writes it to the store (compressed when
   * that pays) and returns a reference. Binary values are streamed: only `threshold + 1` bytes are read to decide.
   * @throws XComError `E_TOO_LARGE` over `maxValueSize` (nothing is left in the store); serializer and store errors.
   */
  override async serializeValue(value: unknown, ctx: XComContext): Promise<StoredValue> {
    if (isBinaryValue(value)) return this.#serializeBinary(value, ctx)
    const { text, plain } = this.serializer.serializeText(value)
    const size = Buffer.byteLength(text, 'utf8')
    if (this.threshold === -1 || size <= this.threshold) return this.#inline(text, size)
    this.#checkSize(size)
    // Large uncompressed text is encoded slice by slice while it is written: no second copy of the value.
    if (this.compression || size <= TEXT_SLICING_FROM)
      return this.#uploadBuffer(ctx, 'json', plainBytes(Buffer.from(text, 'utf8')), plain)
    const hashed = hashing(utf8Slices(text), this.checksum)
    const upload: Upload = {
      format: 'json',
      codec: undefined,
      compressionSkipped: undefined,
      plainJson: plain,
    }
    return this.#write(ctx, upload, hashed.chunks, { size, storedSize: size }, () => ({
      size,
      ...hashed.digest(),
    }))
  }

  /**
   * Reads the value back: inline values from the row, referenced ones from the store, verified against the
   * reference's size and checksum (a replicated store falls back to the next replica when one fails).
   * @throws XComError `E_NOT_FOUND` naming the URI when the object is gone; `E_CORRUPT` when it does not match its
   * reference; `E_TOO_LARGE` when the value is over `maxValueSize`.
   */
  override async deserializeValue(stored: StoredValue, ctx: XComContext): Promise<unknown> {
    if (stored.kind !== 'reference') return super.deserializeValue(stored, ctx)
    const { ref, codec } = await this.#reference(stored, ctx)
    const read = await this.#firstReplica(ref, async (store) => {
      const body = await store.get(ref.objectKey)
      if (body.size !== ref.storedSize) {
        throw new XComError(
          'E_CORRUPT',
          `The object ${ref.uri} is corrupt: it holds ${body.size} bytes where ${ref.storedSize} were written. Clear this XCom and push it again.`,
          { uri: ref.uri },
        )
      }
      // Uncompressed JSON is decoded chunk by chunk as it arrives: the text is never held as bytes too.
      if (!codec && ref.format === 'json') return readVerifiedText(body, expectedOf(ref))
      const storedBytes = await readVerified(body, expectedOf(ref))
      if (!codec) return storedBytes
      const raw = await codec
        .decompress(storedBytes, { maxSize: ref.size, uri: ref.uri })
        .catch((error: unknown) => {
          throw XComError.is(error, 'E_TOO_LARGE') ? inflatesPast(ref) : error
        })
      if (raw.byteLength !== ref.size) {
        throw new XComError(
          'E_CORRUPT',
          `The object ${ref.uri} is corrupt: it decompresses to ${raw.byteLength} bytes where ${ref.size} were written.`,
          { uri: ref.uri },
        )
      }
      return plainBytes(raw)
    })
    if (typeof read === 'string') return this.serializer.deserialize(read)
    if (ref.format === 'bytes') return read
    return this.serializer.deserialize(
      Buffer.from(read.buffer, read.byteOffset, read.byteLength).toString('utf8'),
    )
  }

  /**
   * The value's bytes as a stream, without buffering: a binary value's raw bytes, or a JSON value's UTF-8 text. The
   * stream errors with `E_CORRUPT` at its end if the bytes do not match the reference: do not trust them before the
   * stream has ended cleanly.
   * @throws XComError `E_NOT_FOUND` naming the URI when the object is gone.
   */
  async openStream(stored: StoredValue, ctx: XComContext): Promise<ReadableStream<Bytes>> {
    if (stored.kind === 'malformed') throw malformedValue(stored.reason)
    if (stored.kind === 'inline') {
      const value = await super.deserializeValue(stored, ctx)
      return streamOf(
        value instanceof Uint8Array ? plainBytes(value) : plainBytes(Buffer.from(stored.data, 'utf8')),
      )
    }
    const { ref, codec } = await this.#reference(stored, ctx)
    const body = await this.#firstReplica(ref, (store) => store.get(ref.objectKey))
    const verified = body.stream().pipeThrough(verifying(expectedOf(ref)))
    return codec
      ? inflated(
          verified.pipeThrough(codec.decompressStream({ maxSize: ref.size, uri: ref.uri })),
          ref,
        ).pipeThrough(sized(ref.size, ref.uri))
      : verified
  }

  /**
   * Deletes the value's object (nothing for inline values). Deleting what is already gone succeeds.
   * @throws XComError the store's error (the facade keeps the purge recorded for `gc()`); `E_CORRUPT` for a reference
   * that does not name this XCom's object (nothing is deleted).
   */
  override async purge(stored: StoredValue, ctx: XComContext): Promise<void> {
    if (stored.kind !== 'reference') return
    const key = await this.#ownedKey(stored.ref, ctx)
    const { failed } = await this.store.deleteMany([key])
    if (failed[0]) throw failed[0].error
  }

  /** `<uri> (<size> bytes, <codec>)` for references; the inline JSON (cut) otherwise. Downloads nothing. */
  override display(stored: StoredValue): string {
    if (stored.kind !== 'reference') return super.display(stored)
    const codec =
      typeof stored.ref.codec === 'string' && stored.ref.codec !== 'none' ? `, ${stored.ref.codec}` : ''
    return `${stored.ref.uri} (${stored.size} bytes${codec})`
  }

  /**
   * Reads any object of the store by key, without the metadata database: to audit objects, or to read ones other tools
   * wrote. The codec comes from the object's metadata, else its key's suffix, else its magic bytes (the last two need
   * `@xcom/compression`); the bytes are verified when the metadata carries a checksum (`verified` says so).
   * @throws XComError `E_NOT_FOUND` naming the URI; `E_CORRUPT` when the checksum differs; `E_UNKNOWN_CODEC`;
   * `E_CONFIG` naming `@xcom/compression` when it is needed and not installed.
   */
  async readObject(
    key: string,
  ): Promise<{ bytes: Uint8Array; info: ObjectInfo; codec: string; verified: boolean }> {
    const uri = uriOf(this.store.url, key)
    const body = await this.store.get(key)
    const { stream: _stream, bytes: _bytes, ...info } = body
    const checksum = info.metadata[META.checksum]
    const stored =
      checksum === undefined
        ? plainBytes(await body.bytes())
        : await readVerified(body, { size: info.size, checksum, uri })
    const named = info.metadata[META.codec]
    const recorded = Number(info.metadata[META.size])
    // A recorded size bounds decompression exactly; without one, maxValueSize does.
    const maxSize =
      Number.isSafeInteger(recorded) && recorded >= 0
        ? Math.min(recorded, this.maxValueSize)
        : this.maxValueSize
    let codec: Codec | undefined
    if (named !== undefined) {
      codec = await this.#codecNamed(named, `Reading ${uri}`)
    } else {
      const compression = await loadCompression(`Reading ${uri} (to infer its compression)`)
      codec = compression.codecForSuffix(key) ?? compression.detectCodec(stored.subarray(0, 16))
    }
    const limit = Number.isFinite(maxSize) ? { maxSize, uri } : { uri }
    const bytes = codec ? plainBytes(await codec.decompress(stored, limit)) : stored
    return { bytes, info, codec: codec?.name ?? 'none', verified: checksum !== undefined }
  }

  /**
   * Deletes the objects of the backend's key layout that no record references, that name this database, and that
   * were last modified more than `graceMs` ago (younger objects may belong to pushes in flight); then removes what
   * interrupted writes left behind (see `ObjectStore.removeIncomplete`). Other objects of the store are left alone.
   * @throws XComError `E_CONFIG` when the prefix belongs to another metadata database.
   */
  async sweep(ctx: SweepContext): Promise<SweepReport> {
    await this.#claim.check(ctx.database)
    return sweepStore(this.store, ctx, this.#now().getTime() - ctx.graceMs)
  }

  /** Closes the store. */
  async close(): Promise<void> {
    await this.store.close?.()
  }

  #inline(data: string, size: number): StoredValue {
    this.#checkSize(size)
    return { kind: 'inline', data, size }
  }

  async #serializeBinary(value: BinaryValue, ctx: XComContext): Promise<StoredValue> {
    if (value instanceof Uint8Array) {
      const bytes = plainBytes(value)
      this.#checkSize(bytes.byteLength)
      if (this.threshold === -1 || bytes.byteLength <= this.threshold) return this.#inlineBytes(bytes)
      return this.#uploadBuffer(ctx, 'bytes', bytes)
    }
    const iterator = chunksOf(value)[Symbol.asyncIterator]()
    let done = false
    try {
      const decide =
        this.threshold === -1
          ? Number.POSITIVE_INFINITY
          : Math.max(this.threshold + 1, this.compression ? COMPRESSION_SAMPLE : 0)
      const head = await readHead(iterator, Math.min(decide, this.maxValueSize))
      this.#checkSize(head.size)
      if (head.ended) {
        done = true
        const bytes = head.chunks.length === 0 ? new Uint8Array(0) : concat(head.chunks)
        if (this.threshold === -1 || bytes.byteLength <= this.threshold) return this.#inlineBytes(bytes)
        return await this.#uploadBuffer(ctx, 'bytes', bytes)
      }
      const result = await this.#uploadStream(ctx, head.chunks, head.size, iterator)
      done = true
      return result
    } finally {
      if (!done) await iterator.return?.(undefined).catch(() => {})
    }
  }

  #inlineBytes(bytes: Uint8Array): StoredValue {
    const data = this.serializer.serialize(bytes)
    return { kind: 'inline', data, size: Buffer.byteLength(data) }
  }

  /**
   * Writes a value held in memory, compressed if that pays. Small values are hashed first, so the object's metadata
   * carries the checksum; so are values of any size for a store that uploads buffers faster whole
   * (`capabilities.wholeBufferPut`) when the checksum is cheap (`hashFirstAnySize`). Others are hashed slice by slice
   * while they are written, the hashing hidden behind the I/O.
   */
  async #uploadBuffer(
    ctx: XComContext,
    format: 'json' | 'bytes',
    raw: Uint8Array,
    plainJson = false,
  ): Promise<StoredValue> {
    let stored = raw
    let upload: Upload = { format, codec: undefined, compressionSkipped: undefined, plainJson }
    if (this.compression) {
      const compressed = await this.compression.compress(raw)
      if (this.#pays(raw.byteLength, compressed.byteLength)) {
        stored = plainBytes(compressed)
        upload = { ...upload, codec: this.compression }
      } else {
        upload = { ...upload, compressionSkipped: this.compression.name }
      }
    }
    const size = raw.byteLength
    const storedSize = stored.byteLength
    const hashFirst =
      storedSize <= HASH_FIRST_UP_TO ||
      (this.store.capabilities.wholeBufferPut === true && CHECKSUM_ALGORITHMS[this.checksum].hashFirstAnySize)
    if (hashFirst) {
      const checksum = checksumOf(stored, this.checksum)
      return this.#write(ctx, upload, stored, { size, storedSize, checksum }, () => ({
        size,
        storedSize,
        checksum,
      }))
    }
    const hashed = hashing(chunksOf(stored), this.checksum)
    return this.#write(ctx, upload, hashed.chunks, { size, storedSize }, () => ({ size, ...hashed.digest() }))
  }

  /** Writes a stream value larger than the threshold: the head already read, then the rest, hashed on the way. */
  async #uploadStream(
    ctx: XComContext,
    head: Uint8Array[],
    headSize: number,
    rest: AsyncIterator<Uint8Array>,
  ): Promise<StoredValue> {
    let upload: Upload = { format: 'bytes', codec: undefined, compressionSkipped: undefined }
    if (this.compression) {
      const sample = concat(takeBytes(head, COMPRESSION_SAMPLE)).subarray(0, COMPRESSION_SAMPLE)
      const compressed = await this.compression.compress(sample)
      upload = this.#pays(sample.byteLength, compressed.byteLength)
        ? { ...upload, codec: this.compression }
        : { ...upload, compressionSkipped: this.compression.name }
    }
    let size = headSize
    const checkSize = (bytes: number) => this.#checkSize(bytes)
    async function* raw(): AsyncGenerator<Uint8Array> {
      yield* head
      for (;;) {
        const next = await rest.next()
        if (next.done) return
        size += next.value.byteLength
        checkSize(size)
        yield next.value
      }
    }
    const hashed = hashing(
      upload.codec ? readChunks(streamFrom(raw()).pipeThrough(upload.codec.compressStream())) : raw(),
      this.checksum,
    )
    return this.#write(ctx, upload, hashed.chunks, {}, () => ({ size, ...hashed.digest() }))
  }

  /**
   * Puts the object and builds its reference; on any failure removes whatever was written and rethrows.
   * `known` carries what is known before writing (for the object's metadata and the store); `done` what is known after.
   */
  async #write(
    ctx: XComContext,
    upload: Upload,
    body: Uint8Array | AsyncIterable<Uint8Array>,
    known: { size?: number; storedSize?: number; checksum?: string },
    done: () => { size: number; storedSize: number; checksum: string },
  ): Promise<StoredValue> {
    const database = await this.#claim.check(ctx.database)
    const key = objectKey(ctx, upload.format, upload.codec?.suffix ?? '')
    const uri = uriOf(this.store.url, key)
    const createdAt = new Date().toISOString()
    const metadata: Record<string, string> = {
      [DATABASE_META]: database.id,
      [META.dagId]: encodeURIComponent(ctx.dagId),
      [META.runId]: encodeURIComponent(ctx.runId),
      [META.taskId]: encodeURIComponent(ctx.taskId),
      [META.mapIndex]: String(ctx.mapIndex),
      [META.key]: encodeURIComponent(ctx.key),
      [META.recordId]: ctx.recordId,
      [META.format]: upload.format,
      [META.codec]: upload.codec?.name ?? 'none',
      [META.createdAt]: createdAt,
      ...(known.size === undefined ? {} : { [META.size]: String(known.size) }),
      ...(known.checksum === undefined ? {} : { [META.checksum]: known.checksum }),
    }
    const contentType = upload.format === 'json' ? 'application/json' : 'application/octet-stream'
    try {
      const { size: written } = await this.store.put(key, body, {
        metadata,
        contentType,
        ...(known.storedSize === undefined ? {} : { size: known.storedSize }),
      })
      const facts = done()
      if (written !== facts.storedSize) {
        throw new XComError(
          'E_BACKEND',
          `Writing ${uri}: the store reports ${written} bytes written where ${facts.storedSize} were sent.`,
          { uri },
        )
      }
      const ref: ObjectReference = {
        uri,
        objectKey: key,
        size: facts.size,
        storedSize: facts.storedSize,
        codec: upload.codec?.name ?? 'none',
        format: upload.format,
        checksum: facts.checksum,
        createdAt,
        ...(upload.compressionSkipped ? { compressionSkipped: upload.compressionSkipped } : {}),
        ...(upload.plainJson ? { plainJson: true } : {}),
      }
      return { kind: 'reference', ref, size: facts.size }
    } catch (error) {
      await this.store.deleteMany([key]).catch(() => {})
      if (XComError.is(error))
        throw error.uri === undefined
          ? new XComError(error.code, `Writing ${uri}: ${error.message}`, {
              cause: error.cause ?? error,
              uri,
              path: error.path,
            })
          : error
      throw new XComError(
        'E_BACKEND',
        `Writing ${uri} failed: ${(error as Error)?.message ?? String(error)}`,
        { cause: error, uri },
      )
    }
  }

  #pays(size: number, compressedSize: number): boolean {
    return size > 0 && compressedSize <= size * this.minCompressionRatio
  }

  #checkSize(size: number, uri?: string): void {
    if (size > this.maxValueSize) {
      throw new XComError(
        'E_TOO_LARGE',
        `The value is larger than maxValueSize (${this.maxValueSize} bytes)${uri ? `: ${uri} holds ${size} bytes` : ''}. Push a smaller value or raise maxValueSize.`,
        uri ? { uri } : {},
      )
    }
  }

  /**
   * The key of a reference, if it is exactly the key this backend derives for the record (identity, record id,
   * format and codec): a forged key (`<own key>/../<other key>`, another XCom's key) is refused, never resolved.
   * @throws XComError `E_CORRUPT` naming the reference (nothing is read or deleted).
   */
  async #ownedKey(ref: XComReference, ctx: XComContext): Promise<string> {
    const format = ref.format === 'json' || ref.format === 'bytes' ? ref.format : undefined
    const codec =
      format && typeof ref.codec === 'string'
        ? await this.#codecNamed(ref.codec, `Reading ${String(ref.uri)}`)
        : null
    // A record id that cannot be part of a key (a damaged row) owns no object either.
    const derived =
      format && codec !== null ? keyOrUndefined(() => objectKey(ctx, format, codec?.suffix ?? '')) : undefined
    if (derived === undefined || ref.objectKey !== derived) {
      throw new XComError(
        'E_CORRUPT',
        `The reference ${JSON.stringify(String(ref.uri))} does not name the object of this XCom (it was not written by ObjectStoreXComBackend for this record): nothing was read or deleted.`,
        { uri: typeof ref.uri === 'string' ? ref.uri : undefined },
      )
    }
    return ref.objectKey
  }

  /**
   * Validates a stored reference and finds its codec.
   * @throws XComError `E_CORRUPT` when a field is missing or malformed; `E_TOO_LARGE` over `maxValueSize`.
   */
  async #reference(
    stored: Extract<StoredValue, { kind: 'reference' }>,
    ctx: XComContext,
  ): Promise<{ ref: ObjectReference; codec: Codec | undefined }> {
    const ref = stored.ref
    const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0
    const valid =
      typeof ref.uri === 'string' &&
      count(ref.size) &&
      count(ref.storedSize) &&
      typeof ref.codec === 'string' &&
      (ref.format === 'json' || ref.format === 'bytes') &&
      (ref.plainJson === undefined || typeof ref.plainJson === 'boolean') &&
      algorithmOf(ref.checksum) !== undefined &&
      // An uncompressed object holds exactly the value: its sizes must agree.
      (ref.codec !== 'none' || ref.size === ref.storedSize)
    if (!valid) {
      throw new XComError(
        'E_CORRUPT',
        `The reference to ${String(ref.uri)} is malformed (it needs size, storedSize, codec, format and a crc32 or sha256 checksum, and equal sizes when uncompressed): the row was not written by ObjectStoreXComBackend or was damaged.`,
        { uri: typeof ref.uri === 'string' ? ref.uri : undefined },
      )
    }
    const key = await this.#ownedKey(ref, ctx)
    this.#checkSize(ref.size as number, ref.uri)
    return { ref: { ...(ref as ObjectReference), key }, codec: await this.#codecOf(ref as ObjectReference) }
  }

  /** The codec an object was written with: this backend's, or one loaded by name from `@xcom/compression`. */
  async #codecOf(ref: ObjectReference): Promise<Codec | undefined> {
    return this.#codecNamed(ref.codec, `Reading ${ref.uri}`)
  }

  async #codecNamed(name: string, source: string): Promise<Codec | undefined> {
    if (name === 'none') return undefined
    if (this.compression?.name === name) return this.compression
    let codec = this.#codecs.get(name)
    if (!codec) {
      codec = loadCodec(name, `${source} (compressed with ${name})`, 'E_UNKNOWN_CODEC')
      this.#codecs.set(name, codec)
      codec.catch(() => this.#codecs.delete(name))
    }
    return codec
  }

  /** Runs `read` on each replica in turn until one succeeds; a missing object is reported with the reference's URI. */
  async #firstReplica<T>(ref: ObjectReference, read: (store: ObjectStore) => Promise<T>): Promise<T> {
    const stores = this.store instanceof ReplicatedObjectStore ? this.store.stores : [this.store]
    const errors: unknown[] = []
    for (const store of stores) {
      try {
        return await read(store)
      } catch (error) {
        errors.push(error)
      }
    }
    const failure = errors.find((error) => !XComError.is(error, 'E_NOT_FOUND'))
    if (failure) throw failure
    throw new XComError(
      'E_NOT_FOUND',
      `The object ${ref.uri} of this XCom is missing although its row still references it: it was not removed by an overwrite or clear of this XCom. Something deleted it (a bucket lifecycle rule, a manual delete, another tool; or gc with a grace period shorter than a push) or it was never fully written. The value is lost: clear this XCom and push it again.`,
      { uri: ref.uri, cause: errors[0] },
    )
  }
}

/** `E_CORRUPT`: the object inflates past the size its reference records (a forged or damaged reference or object). */
function inflatesPast(ref: ObjectReference): XComError {
  return new XComError(
    'E_CORRUPT',
    `The object ${ref.uri} is corrupt: it decompresses to more than the ${ref.size} bytes its reference records (decompression stopped there).`,
    { uri: ref.uri },
  )
}

/** The decompressed stream, its `E_TOO_LARGE` (output past the recorded size) reported as `E_CORRUPT`. */
function inflated(stream: ReadableStream<Uint8Array>, ref: ObjectReference): ReadableStream<Uint8Array> {
  const reader = stream.getReader()
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      } catch (error) {
        controller.error(XComError.is(error, 'E_TOO_LARGE') ? inflatesPast(ref) : error)
      }
    },
    cancel: (reason) => reader.cancel(reason),
  })
}

function keyOrUndefined(derive: () => string): string | undefined {
  try {
    return derive()
  } catch {
    return undefined
  }
}

function expectedOf(ref: ObjectReference): Expected {
  return { size: ref.storedSize, checksum: ref.checksum, uri: ref.uri }
}

/** The first chunks of `chunks` holding at least `size` bytes. */
function takeBytes(chunks: readonly Uint8Array[], size: number): Uint8Array[] {
  const taken: Uint8Array[] = []
  let total = 0
  for (const chunk of chunks) {
    if (total >= size) break
    taken.push(chunk)
    total += chunk.byteLength
  }
  return taken
}

/** Parses XCOM_OBJECTSTORAGE_THRESHOLD. @throws XComError `E_CONFIG` naming the variable. */
function parseThreshold(setting: EnvSetting | undefined): number {
  if (!setting) return -1
  const threshold = /^-?\d+$/.test(setting.value) ? Number(setting.value) : Number.NaN
  if (!Number.isSafeInteger(threshold) || threshold < -1) {
    throw new XComError(
      'E_CONFIG',
      `${setting.variable}=${setting.value} is not a valid threshold: use -1 (everything in the database), 0 (everything in object storage) or a size in bytes such as 65536.`,
    )
  }
  return threshold
}

/** Parses XCOM_OBJECTSTORAGE_CHECKSUM (unset: crc32). @throws XComError `E_CONFIG` naming the variable. */
function parseChecksum(setting: EnvSetting | undefined): ChecksumAlgorithm {
  if (!setting) return 'crc32'
  const name = setting.value.toLowerCase()
  if (isChecksumAlgorithm(name)) return name
  throw new XComError(
    'E_CONFIG',
    `${setting.variable}=${setting.value} is not a checksum algorithm: use ${Object.keys(CHECKSUM_ALGORITHMS).join(' or ')}.`,
  )
}

/** The codec XCOM_OBJECTSTORAGE_COMPRESSION names, if any ("none" and empty mean no compression). */
async function codecFromSetting(setting: EnvSetting | undefined): Promise<Codec | undefined> {
  if (!setting || /^(none|null|false|off)$/i.test(setting.value)) return undefined
  return loadCodec(setting.value, setting.variable, 'E_CONFIG')
}

/**
 * Loads a codec by name from `@xcom/compression`, imported only now.
 * @throws XComError `E_CONFIG` naming `source` and the package to install, or the valid names.
 */
async function loadCodec(name: string, source: string, code: 'E_CONFIG' | 'E_UNKNOWN_CODEC'): Promise<Codec> {
  const { codecByName } = await loadCompression(source)
  try {
    return await codecByName(name)
  } catch (error) {
    throw new XComError(code, `${source}: ${(error as Error)?.message ?? String(error)}`, { cause: error })
  }
}

/** The parts of `@xcom/compression` this package uses, imported only when a codec must be found by name or content. */
interface CompressionModule {
  codecByName(name: string): Codec | Promise<Codec>
  codecForSuffix(suffixOrKey: string): Codec | undefined
  detectCodec(data: Bytes): Codec | undefined
}

/** @throws XComError `E_CONFIG` naming `source` and the package to install when `@xcom/compression` is missing. */
async function loadCompression(source: string): Promise<CompressionModule> {
  return (await importModule('@xcom/compression', source)) as unknown as CompressionModule
}
