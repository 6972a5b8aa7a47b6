import type { Codec, Encryption, SerializerRegistry, StoredValue, XComContext } from '@xcom/core'
import { XComError } from '@xcom/core'
import {
  type Attributes,
  activeTelemetry,
  concatBytes,
  plainBytes,
  readChunks,
  storageAttributes,
  toReadableStream,
} from '@xcom/core/adapter'
import { type BinaryValue, chunksOf, hashing, isBinaryValue, readHead, utf8Slices } from './bytes.ts'
import { CHECKSUM_ALGORITHMS, checksumOf } from './checksum.ts'
import type { PrefixClaim } from './claim.ts'
import { bindingOf, encryptBytes, sealInline } from './encryption.ts'
import { objectKeyOf } from './keys.ts'
import { type BackendSettings, checkValueSize } from './options.ts'
import { type ObjectReference, objectMetadata } from './reference.ts'
import { uriOf } from './store-util.ts'
import { logCompressionSkipped, logOffloaded } from './telemetry.ts'

/** Bytes of a stream value compressed on trial to decide whether compressing the whole stream is worth it. */
const COMPRESSION_SAMPLE = 1024 * 1024
/** JSON text larger than this is encoded slice by slice while it is written, instead of into one buffer first. */
const TEXT_SLICING_FROM = 8 * 1024 * 1024
/** Values held in memory and stored in at most this many bytes are hashed before the upload. */
const HASH_FIRST_UP_TO = 8 * 1024 * 1024

/** How one value is stored. */
interface Upload {
  format: 'json' | 'bytes'
  codec: Codec | undefined
  compressionSkipped: string | undefined
  /** The JSON text holds no envelope. */
  plainJson?: boolean
  /** A stream of unknown length: its codec, if any, runs inside the upload (no `xcom.compress` span of its own). */
  streamed?: boolean
  /** The encryption format and key id of the object, when encrypted. */
  encryption?: { name: string; keyId: string }
}

/** What is known of the stored bytes: before the upload (some of it), or after (all of it). */
interface Facts {
  size: number
  storedSize: number
  checksum: string
}

/**
 * The push side of the backend: decides inline or object by the threshold (measuring each value once, reading a stream
 * only up to `threshold + 1` bytes to decide), compresses when that pays, hashes while uploading, and builds the
 * reference. Nothing it fails to upload is left in the store.
 */
export class ValueWriter {
  readonly #settings: BackendSettings
  readonly #claim: PrefixClaim
  readonly #serializer: SerializerRegistry

  constructor(settings: BackendSettings, claim: PrefixClaim, serializer: SerializerRegistry) {
    this.#settings = settings
    this.#claim = claim
    this.#serializer = serializer
  }

  /**
   * The stored form of `value`: inline data up to the threshold, else a reference to the object just written.
   * @throws XComError `E_TOO_LARGE` over `maxValueSize` (nothing is left in the store); serializer and store errors.
   */
  async serialize(value: unknown, ctx: XComContext): Promise<StoredValue> {
    if (isBinaryValue(value)) return this.#serializeBinary(value, ctx)
    const { threshold, compression, checksum } = this.#settings
    const { text, plain, size } = await activeTelemetry().span('xcom.serialize', {}, async (span) => {
      const { text, plain } = this.#serializer.serializeText(value)
      const size = Buffer.byteLength(text, 'utf8')
      if (span.recording) span.set({ 'xcom.value.size': size, 'xcom.value.format': 'json' })
      return { text, plain, size }
    })
    if (threshold === -1 || size <= threshold) return this.#inline(text, size, ctx)
    this.#checkSize(size)
    // Large uncompressed text is encoded (and encrypted) slice by slice while it is written: no second copy of it.
    if (compression || size <= TEXT_SLICING_FROM)
      return this.#uploadBuffer(ctx, 'json', plainBytes(Buffer.from(text, 'utf8')), plain)
    const { encryption } = this.#settings
    const plainUpload: Upload = {
      format: 'json',
      codec: undefined,
      compressionSkipped: undefined,
      plainJson: plain,
    }
    const { chunks, upload } = encryption
      ? await this.#sealStream(ctx, encryption, toReadableStream(utf8Slices(text)), plainUpload)
      : { chunks: utf8Slices(text), upload: plainUpload }
    const storedSize = encryption ? encryption.encryptedSize(size) : size
    const hashed = hashing(chunks, checksum)
    return this.#write(ctx, upload, hashed.chunks, { size, storedSize }, () => ({ size, ...hashed.digest() }))
  }

  /** `stream` encrypted under the active key, as the chunks to upload, and `upload` naming that key. */
  async #sealStream(
    ctx: XComContext,
    encryption: Encryption,
    stream: ReadableStream<Uint8Array>,
    upload: Upload,
  ): Promise<{ chunks: AsyncIterable<Uint8Array>; upload: Upload }> {
    const keyId = await encryption.activeKeyId()
    const sealed = stream.pipeThrough(await encryption.encryptStream(bindingOf(ctx)))
    return { chunks: readChunks(sealed), upload: { ...upload, encryption: { name: encryption.name, keyId } } }
  }

  async #inline(data: string, size: number, ctx: XComContext): Promise<StoredValue> {
    this.#checkSize(size)
    const { encryption, encryptInline } = this.#settings
    if (encryption && encryptInline) return sealInline(encryption, data, ctx)
    return { kind: 'inline', data, size }
  }

  async #serializeBinary(value: BinaryValue, ctx: XComContext): Promise<StoredValue> {
    const { threshold, compression, maxValueSize } = this.#settings
    if (value instanceof Uint8Array) {
      const bytes = plainBytes(value)
      this.#checkSize(bytes.byteLength)
      if (threshold === -1 || bytes.byteLength <= threshold) return this.#inlineBytes(bytes, ctx)
      return this.#uploadBuffer(ctx, 'bytes', bytes)
    }
    const iterator = chunksOf(value)[Symbol.asyncIterator]()
    let done = false
    try {
      const decide =
        threshold === -1
          ? Number.POSITIVE_INFINITY
          : Math.max(threshold + 1, compression ? COMPRESSION_SAMPLE : 0)
      const head = await readHead(iterator, Math.min(decide, maxValueSize))
      this.#checkSize(head.size)
      if (head.ended) {
        done = true
        const bytes = head.chunks.length === 0 ? new Uint8Array(0) : concatBytes(head.chunks)
        if (threshold === -1 || bytes.byteLength <= threshold) return this.#inlineBytes(bytes, ctx)
        return await this.#uploadBuffer(ctx, 'bytes', bytes)
      }
      const result = await this.#uploadStream(ctx, head.chunks, head.size, iterator)
      done = true
      return result
    } finally {
      if (!done) await iterator.return?.(undefined).catch(() => {})
    }
  }

  #inlineBytes(bytes: Uint8Array, ctx: XComContext): Promise<StoredValue> {
    const data = this.#serializer.serialize(bytes)
    return this.#inline(data, Buffer.byteLength(data), ctx)
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
    const { compression, encryption, store, checksum: algorithm } = this.#settings
    let stored = raw
    let upload: Upload = { format, codec: undefined, compressionSkipped: undefined, plainJson }
    if (compression) {
      const compressed = await this.#compress(ctx, compression, raw)
      if (compressed) {
        stored = compressed
        upload = { ...upload, codec: compression }
      } else {
        upload = { ...upload, compressionSkipped: compression.name }
      }
    }
    if (encryption) {
      const { sealed, keyId } = await encryptBytes(encryption, stored, ctx)
      stored = sealed
      upload = { ...upload, encryption: { name: encryption.name, keyId } }
    }
    const size = raw.byteLength
    const storedSize = stored.byteLength
    const hashFirst =
      storedSize <= HASH_FIRST_UP_TO ||
      (store.capabilities.wholeBufferPut === true && CHECKSUM_ALGORITHMS[algorithm].hashFirstAnySize)
    if (hashFirst) {
      const checksum = checksumOf(stored, algorithm)
      return this.#write(ctx, upload, stored, { size, storedSize, checksum }, () => ({
        size,
        storedSize,
        checksum,
      }))
    }
    const hashed = hashing(chunksOf(stored), algorithm)
    return this.#write(ctx, upload, hashed.chunks, { size, storedSize }, () => ({ size, ...hashed.digest() }))
  }

  /**
   * Compresses a value held in memory in span `xcom.compress`: the compressed bytes, or undefined when they do not
   * shrink it enough (`xcom.compression.skipped`).
   */
  async #compress(ctx: XComContext, codec: Codec, raw: Uint8Array): Promise<Uint8Array | undefined> {
    const telemetry = activeTelemetry()
    return telemetry.span('xcom.compress', { 'xcom.codec': codec.name }, async (span) => {
      const compressed = await codec.compress(raw)
      const pays = this.#pays(raw.byteLength, compressed.byteLength)
      if (!pays) logCompressionSkipped(telemetry, ctx, codec.name, raw.byteLength, compressed.byteLength)
      if (span.recording)
        span.set({
          'xcom.value.size': raw.byteLength,
          'xcom.compression.output_size': compressed.byteLength,
          'xcom.value.stored_size': pays ? compressed.byteLength : raw.byteLength,
          'xcom.compression.skipped': !pays,
        })
      return pays ? plainBytes(compressed) : undefined
    })
  }

  /** Writes a stream value larger than the threshold: the head already read, then the rest, hashed on the way. */
  async #uploadStream(
    ctx: XComContext,
    head: Uint8Array[],
    headSize: number,
    rest: AsyncIterator<Uint8Array>,
  ): Promise<StoredValue> {
    const { compression, encryption } = this.#settings
    let upload: Upload = { format: 'bytes', codec: undefined, compressionSkipped: undefined, streamed: true }
    if (compression) {
      const sample = concatBytes(takeBytes(head, COMPRESSION_SAMPLE)).subarray(0, COMPRESSION_SAMPLE)
      // A trial on a sample, not a compression of the value: no span of its own (the upload span says the codec).
      const compressed = await compression.compress(sample)
      if (this.#pays(sample.byteLength, compressed.byteLength)) upload = { ...upload, codec: compression }
      else {
        upload = { ...upload, compressionSkipped: compression.name }
        logCompressionSkipped(
          activeTelemetry(),
          ctx,
          compression.name,
          sample.byteLength,
          compressed.byteLength,
        )
      }
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
    let chunks: AsyncIterable<Uint8Array> = raw()
    if (upload.codec || encryption) {
      let stream = toReadableStream(chunks)
      if (upload.codec) stream = stream.pipeThrough(upload.codec.compressStream())
      if (encryption) ({ chunks, upload } = await this.#sealStream(ctx, encryption, stream, upload))
      else chunks = readChunks(stream)
    }
    const hashed = hashing(chunks, this.#settings.checksum)
    return this.#write(ctx, upload, hashed.chunks, {}, () => ({ size, ...hashed.digest() }))
  }

  /**
   * Key rotation: the object of `ref` sealed again under the active key as the object of record `ctx`, from its stored
   * bytes (decrypted, still compressed), streamed; the new reference keeps the value's size, format and codec.
   */
  async reseal(
    ctx: XComContext,
    ref: ObjectReference,
    codec: Codec | undefined,
    stored: ReadableStream<Uint8Array>,
  ): Promise<StoredValue> {
    const encryption = this.#settings.encryption
    if (!encryption) throw new XComError('E_CONFIG', 'Re-encrypting needs a backend with encryption.')
    const { chunks, upload } = await this.#sealStream(ctx, encryption, stored, {
      format: ref.format,
      codec,
      compressionSkipped: ref.compressionSkipped,
      plainJson: ref.plainJson === true,
      streamed: true,
    })
    const hashed = hashing(chunks, this.#settings.checksum)
    return this.#write(ctx, upload, hashed.chunks, { size: ref.size }, () => ({
      size: ref.size,
      ...hashed.digest(),
    }))
  }

  /**
   * Puts the object and builds its reference; on any failure removes whatever was written and rethrows.
   * `known` carries what is known before writing (for the object's metadata and the store); `done` what is known after.
   */
  async #write(
    ctx: XComContext,
    upload: Upload,
    body: Uint8Array | AsyncIterable<Uint8Array>,
    known: Partial<Facts>,
    done: () => Facts,
  ): Promise<StoredValue> {
    const { store } = this.#settings
    const database = await this.#claim.check(ctx.database)
    const objectKey = objectKeyOf(ctx, upload.format, upload.codec?.suffix ?? '')
    const uri = uriOf(store.url, objectKey)
    const createdAt = new Date().toISOString()
    const metadata = objectMetadata(ctx, database, { ...upload, createdAt, ...known })
    const contentType = upload.format === 'json' ? 'application/json' : 'application/octet-stream'
    const telemetry = activeTelemetry()
    try {
      const facts = await telemetry.span(
        'xcom.upload',
        {},
        async (span) => {
          if (span.recording) span.set(uploadAttributes(store.url, objectKey, upload, this.#settings))
          const { size: written } = await store.put(objectKey, body, {
            metadata,
            contentType,
            ...(known.storedSize === undefined ? {} : { size: known.storedSize }),
          })
          const facts = done()
          if (span.recording)
            span.set({ 'xcom.value.size': facts.size, 'xcom.value.stored_size': facts.storedSize })
          if (written !== facts.storedSize) {
            throw new XComError(
              'E_BACKEND',
              `Writing ${uri}: the store reports ${written} bytes written where ${facts.storedSize} were sent.`,
              { uri },
            )
          }
          return facts
        },
        { client: true },
      )
      const codec = upload.codec?.name ?? 'none'
      if (upload.codec)
        telemetry.count('xcom.compression.saved', facts.size - facts.storedSize, { 'xcom.codec': codec })
      logOffloaded(telemetry, ctx, uri, facts.size, facts.storedSize, codec)
      const ref: ObjectReference = {
        uri,
        objectKey,
        size: facts.size,
        storedSize: facts.storedSize,
        codec,
        format: upload.format,
        checksum: facts.checksum,
        createdAt,
        ...(upload.compressionSkipped ? { compressionSkipped: upload.compressionSkipped } : {}),
        ...(upload.plainJson ? { plainJson: true } : {}),
        ...(upload.encryption ? { encryption: upload.encryption.name, keyId: upload.encryption.keyId } : {}),
      }
      return { kind: 'reference', ref, size: facts.size }
    } catch (error) {
      await store.deleteMany([objectKey]).catch(() => {})
      throw writeFailed(error, uri)
    }
  }

  #pays(size: number, compressedSize: number): boolean {
    return size > 0 && compressedSize <= size * this.#settings.minCompressionRatio
  }

  #checkSize(size: number): void {
    checkValueSize(size, this.#settings.maxValueSize)
  }
}

/** A failed write as an XComError naming `uri`: an XComError that names none gets it, with its code kept. */
function writeFailed(error: unknown, uri: string): XComError {
  if (XComError.is(error)) {
    return error.uri === undefined
      ? new XComError(error.code, `Writing ${uri}: ${error.message}`, {
          cause: error.cause ?? error,
          uri,
          path: error.path,
        })
      : error
  }
  return new XComError('E_BACKEND', `Writing ${uri} failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
    uri,
  })
}

/** What `xcom.upload` says of a write before it starts: where, what and how (the object key carries no secret). */
function uploadAttributes(
  storeUrl: string,
  objectKey: string,
  upload: Upload,
  settings: BackendSettings,
): Attributes {
  return {
    ...storageAttributes(storeUrl),
    'xcom.object.key': objectKey,
    'xcom.value.format': upload.format,
    'xcom.codec': upload.codec?.name ?? 'none',
    'xcom.compression.skipped': upload.compressionSkipped === undefined ? undefined : true,
    'xcom.checksum.algorithm': settings.checksum,
    'xcom.upload.streamed': upload.streamed === true,
    'xcom.encryption': upload.encryption?.name,
  }
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
