import {
  BaseXComBackend,
  type Bytes,
  type CheckContext,
  type CheckResult,
  type Codec,
  type CodecResolver,
  type Encryption,
  type Env,
  formatIdentity,
  type ObjectStore,
  type StoredValue,
  type SweepContext,
  type SweepReport,
  type XComContext,
} from '@xcom/core'
import {
  activeTelemetry,
  type BackendEnvContext,
  malformedValue,
  plainBytes,
  toReadableStream,
} from '@xcom/core/adapter'
import { checkObjectStore } from './check.ts'
import type { ChecksumAlgorithm } from './checksum.ts'
import { PrefixClaim } from './claim.ts'
import { CodecLookup } from './codecs.ts'
import { isSealedInline, openInline } from './encryption.ts'
import { optionsFromEnv } from './from-env.ts'
import { type BackendSettings, type ObjectStoreXComBackendOptions, resolveOptions } from './options.ts'
import { type ObjectRead, openValueStream, readObject, readValue } from './read.ts'
import { checkReference, ownedKey } from './reference.ts'
import { Resealer } from './rotate.ts'
import { sweepStore } from './sweep.ts'
import { ValueWriter } from './write.ts'

/**
 * The object storage backend: values up to `threshold` bytes stay in the metadata database, larger ones go to an
 * {@link ObjectStore} under `<dagId>/<runId>/<taskId>/<mapIndex>/<key>/<recordId>.<json|bin>[.<codec>]`, behind a
 * typed, checksummed `ObjectReference`. Binary values (Uint8Array, Buffer, Blob, web streams, async iterables)
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
  /** See {@link ObjectStoreXComBackendOptions.codecs}; undefined: `@xcom/compression`'s, loaded when needed. */
  readonly codecs: CodecResolver | undefined
  /** See {@link ObjectStoreXComBackendOptions.minCompressionRatio}. */
  readonly minCompressionRatio: number
  /** See {@link ObjectStoreXComBackendOptions.maxValueSize}. */
  readonly maxValueSize: number
  /** See {@link ObjectStoreXComBackendOptions.checksum}. */
  readonly checksum: ChecksumAlgorithm
  /** See {@link ObjectStoreXComBackendOptions.encryption}. */
  readonly encryption: Encryption | undefined
  readonly #settings: BackendSettings
  readonly #claim: PrefixClaim
  readonly #codecs: CodecLookup
  readonly #writer: ValueWriter
  readonly #resealer: Resealer

  /**
   * @throws XComError `E_CONFIG` for a missing store or an invalid threshold, codec, resolver, ratio, maximum size or
   * checksum.
   */
  constructor(options: ObjectStoreXComBackendOptions) {
    super(options)
    const settings = resolveOptions(options)
    this.#settings = settings
    this.store = settings.store
    this.threshold = settings.threshold
    this.compression = settings.compression
    this.codecs = settings.codecs
    this.minCompressionRatio = settings.minCompressionRatio
    this.maxValueSize = settings.maxValueSize
    this.checksum = settings.checksum
    this.encryption = settings.encryption
    this.#claim = new PrefixClaim(settings.store)
    this.#codecs = new CodecLookup(settings.compression, settings.codecs)
    this.#writer = new ValueWriter(settings, this.#claim, this.serializer)
    this.#resealer = new Resealer(settings, this.#codecs, this.#writer)
  }

  /**
   * Builds the backend from XCOM_OBJECTSTORAGE_PATH, _THRESHOLD and _COMPRESSION (or their AIRFLOW__COMMON_IO__
   * spellings) and XCOM_OBJECTSTORAGE_CHECKSUM; `XCom.fromEnv` calls it. A codec name needs `@xcom/compression`,
   * imported only then.
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
    return new this(await optionsFromEnv(env, context))
  }

  /**
   * Keeps the value inline when its size is at most the threshold; otherwise writes it to the store (compressed when
   * that pays) and returns a reference. Binary values are streamed: only `threshold + 1` bytes are read to decide.
   * @throws XComError `E_TOO_LARGE` over `maxValueSize` (nothing is left in the store); serializer and store errors.
   */
  override async serializeValue(value: unknown, ctx: XComContext): Promise<StoredValue> {
    return this.#writer.serialize(value, ctx)
  }

  /**
   * Reads the value back: inline values from the row, referenced ones from the store, verified against the
   * reference's size and checksum (a store with `replicas` falls back to the next replica when one fails).
   * @throws XComError `E_NOT_FOUND` naming the URI when the object is gone; `E_CORRUPT` when it does not match its
   * reference; `E_TOO_LARGE` when the value is over `maxValueSize`.
   */
  override async deserializeValue(stored: StoredValue, ctx: XComContext): Promise<unknown> {
    if (stored.kind !== 'reference') return super.deserializeValue(await this.#openInline(stored, ctx), ctx)
    const { ref, codec } = await checkReference(stored, ctx, this.#codecs, this.maxValueSize)
    const read = await readValue(this.store, ref, codec, ctx, this.encryption)
    if (ref.format === 'bytes' && typeof read !== 'string') return read
    return activeTelemetry().span('xcom.deserialize', {}, async (span) => {
      if (span.recording) span.set({ 'xcom.value.size': ref.size, 'xcom.value.format': 'json' })
      const text =
        typeof read === 'string'
          ? read
          : Buffer.from(read.buffer, read.byteOffset, read.byteLength).toString('utf8')
      // Text written without envelopes, and just verified against its checksum, needs JSON.parse alone.
      return this.serializer.deserialize(text, { plain: ref.plainJson === true })
    })
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
      const plain = await this.#openInline(stored, ctx)
      const value = await super.deserializeValue(plain, ctx)
      return toReadableStream(
        value instanceof Uint8Array ? plainBytes(value) : plainBytes(Buffer.from(plain.data, 'utf8')),
      )
    }
    const { ref, codec } = await checkReference(stored, ctx, this.#codecs, this.maxValueSize)
    return openValueStream(this.store, ref, codec, ctx, this.encryption)
  }

  /** Inline data as the serializer wrote it: decrypted when the backend encrypted it. */
  async #openInline<T extends StoredValue>(stored: T, ctx: XComContext): Promise<T> {
    if (stored.kind !== 'inline' || !isSealedInline(stored.data)) return stored
    return (await openInline(this.encryption, stored.data, ctx, formatIdentity(ctx))) as T
  }

  /**
   * Key rotation: the id of the key new values are encrypted under.
   * @throws XComError `E_CONFIG` when the backend has no encryption.
   */
  async activeKeyId(): Promise<string> {
    return this.#resealer.activeKeyId()
  }

  /**
   * Key rotation: true when the value is not encrypted under the active key (inline values only with
   * `encryptInline`). Downloads nothing.
   * @throws XComError `E_CONFIG` when the backend has no encryption.
   */
  async needsReencryption(stored: StoredValue, ctx: XComContext): Promise<boolean> {
    return this.#resealer.needsReencryption(stored, ctx)
  }

  /**
   * Key rotation: the value of record `from` sealed under the active key as the value of record `to` (a new object,
   * streamed from the old one's stored bytes). `XCom.rotateKeys` switches the row and purges the old value.
   * @throws XComError `E_CONFIG` without encryption or the old value's key; `E_CORRUPT`, `E_NOT_FOUND` as a pull.
   */
  async reencrypt(stored: StoredValue, from: XComContext, to: XComContext): Promise<StoredValue> {
    return this.#resealer.reencrypt(stored, from, to)
  }

  /**
   * Deletes the value's object (nothing for inline values). Deleting what is already gone succeeds.
   * @throws XComError the store's error (the facade keeps the purge recorded for `gc()`); `E_CORRUPT` for a reference
   * that does not name this XCom's object (nothing is deleted).
   */
  override async purge(stored: StoredValue, ctx: XComContext): Promise<void> {
    if (stored.kind !== 'reference') return
    const objectKey = await ownedKey(stored.ref, ctx, this.#codecs)
    const { failed } = await this.store.deleteMany([objectKey])
    if (failed[0]) throw failed[0].error
  }

  /**
   * `<uri> (<size> bytes, <codec>)` for references; the inline JSON (cut) otherwise, or that it is encrypted.
   * Downloads nothing, decrypts nothing.
   */
  override display(stored: StoredValue): string {
    if (stored.kind === 'inline' && isSealedInline(stored.data))
      return `(encrypted inline value, ${stored.size} bytes)`
    if (stored.kind !== 'reference') return super.display(stored)
    const codec =
      typeof stored.ref.codec === 'string' && stored.ref.codec !== 'none' ? `, ${stored.ref.codec}` : ''
    return `${stored.ref.uri} (${stored.size} bytes${codec})`
  }

  /**
   * Reads any object of the store by key, without the metadata database: to audit objects, or to read ones other tools
   * wrote. The codec comes from the object's metadata, else its key's suffix, else its magic bytes (found by `codecs`);
   * the bytes are verified when the metadata carries a checksum (`verified` says so).
   * @throws XComError `E_NOT_FOUND` naming the URI; `E_CORRUPT` when the checksum differs; `E_UNKNOWN_CODEC`;
   * `E_CONFIG` naming `@xcom/compression` when it is needed, not installed, and no `codecs` was given.
   */
  async readObject(objectKey: string): Promise<ObjectRead> {
    return readObject(this.store, objectKey, this.#codecs, this.maxValueSize, this.encryption)
  }

  /**
   * Deletes the objects of the backend's key layout that no record references, that name this database, and that
   * were last modified more than `graceMs` ago (younger objects may belong to pushes in flight); then removes what
   * interrupted writes left behind (see `ObjectStore.removeIncomplete`). Other objects of the store are left alone.
   * @throws XComError `E_CONFIG` when the prefix belongs to another metadata database.
   */
  async sweep(ctx: SweepContext): Promise<SweepReport> {
    await this.#claim.check(ctx.database)
    const report = await sweepStore(this.store, ctx, this.#settings.now().getTime() - ctx.graceMs)
    const { logger } = activeTelemetry()
    if (logger.enabled('info')) {
      const { scanned, deleted, failed, foreign = 0, incomplete = 0 } = report
      logger.info(
        `Swept ${this.store.url}${ctx.dryRun ? ' (dry run)' : ''}: ${scanned} objects scanned, ${deleted} unreferenced ${ctx.dryRun ? 'to delete' : 'deleted'}, ${failed.length} failed, ${foreign} of other databases left, ${incomplete} leftovers of interrupted writes removed.`,
        { uri: this.store.url, scanned, deleted, failed: failed.length, foreign, incomplete },
      )
    }
    return report
  }

  /**
   * Preflight (`xcom.check()`, `xcom doctor`): writes, reads back and deletes a probe object `xcom-check/<uuid>.probe`,
   * then, when `ctx.database` is given and the probe passed, checks that the prefix is unclaimed or claimed by that
   * database. Problems are failed results with a fix, never thrown.
   */
  async check(ctx: CheckContext): Promise<CheckResult[]> {
    return checkObjectStore(this.store, ctx.database)
  }

  /** Closes the store. */
  async close(): Promise<void> {
    await this.store.close?.()
  }
}
