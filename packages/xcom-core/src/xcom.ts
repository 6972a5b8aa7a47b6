import { randomUUID } from 'node:crypto'
import { identityAttributes, storedAttributes } from './attributes.ts'
import { BaseXComBackend, malformedValue } from './backend.ts'
import { type CheckReport, runChecks } from './check.ts'
import { mapLimit } from './concurrency.ts'
import type { Env } from './config.ts'
import type {
  Bytes,
  DatabaseIdentity,
  MetadataStore,
  PushOptions,
  RecordPage,
  XComBackend,
  XComContext,
  XComIdentity,
  XComKey,
  XComQuery,
  XComRecord,
} from './contracts.ts'
import { XComError } from './errors.ts'
import { type XComFromEnvOptions, xcomOptionsFromEnv } from './from-env.ts'
import { contextOf, formatIdentity, resolveIdentity, validateIdentifier } from './identity.ts'
import { Purger } from './purger.ts'
import { validateQuery } from './query.ts'
import { rotateKeys } from './rotation.ts'
import { type SpanHandle, type Telemetry, telemetryOf } from './telemetry.ts'
import { wrap } from './wrap-error.ts'
import type {
  GcOptions,
  GcReport,
  PulledXCom,
  PurgeReport,
  RotateKeysOptions,
  RotationReport,
  XComOptions,
} from './xcom-types.ts'

/**
 * Push, pull and clear values passed between tasks. Identities are validated before any I/O; replaced and cleared
 * values are purged through the backend, and a purge that fails stays recorded for `gc()`.
 */
export class XCom {
  /** The metadata database. */
  readonly metadata: MetadataStore
  /** The storage backend. */
  readonly backend: XComBackend
  readonly #now: () => Date
  readonly #concurrency: number
  readonly #telemetry: Telemetry
  readonly #purger: Purger
  #database: Promise<DatabaseIdentity> | undefined

  constructor(options: XComOptions) {
    if (!options?.metadata)
      throw new XComError(
        'E_CONFIG',
        'new XCom({ metadata }) needs a MetadataStore, e.g. new MemoryMetadataStore().',
      )
    this.metadata = options.metadata
    this.backend = options.backend ?? new BaseXComBackend()
    this.#now = options.now ?? (() => new Date())
    this.#concurrency = Math.max(1, options.concurrency ?? 8)
    this.#telemetry = telemetryOf(options)
    this.#purger = new Purger({
      metadata: this.metadata,
      backend: this.backend,
      telemetry: this.#telemetry,
      concurrency: this.#concurrency,
      identity: () => this.#identity(),
      rows: () => this.pages({}),
    })
  }

  /**
   * Builds an XCom from environment variables: XCOM_BACKEND / AIRFLOW__CORE__XCOM_BACKEND (`module#Export`, a package
   * or a file path), XCOM_OBJECTSTORAGE_PATH (selects `@xcom/objectstore` when no backend is named),
   * XCOM_METADATA_URL (`memory://`, `sqlite://path`, `postgres://...`; default `sqlite://.xcom/xcom.db`) and
   * connections from XCOM_CONN_<ID> / AIRFLOW_CONN_<ID>. Types beyond the built-in ones are registered on the
   * backend's serializer by XCOM_SERIALIZERS (`module#export`, comma-separated), `options.register` or
   * `options.serializer`.
   * @throws XComError `E_CONFIG` naming the variable and what would be valid.
   */
  static async fromEnv(env: Env = process.env, options: XComFromEnvOptions = {}): Promise<XCom> {
    const built = await xcomOptionsFromEnv(env, options)
    try {
      return new XCom(built)
    } catch (error) {
      await built.metadata.close()
      throw error
    }
  }

  /**
   * Stores `value` under `identity`, replacing (and purging) any previous value.
   * @throws XComError `E_INVALID_KEY` before any I/O; serializer and backend errors naming the XCom.
   */
  async push(identity: XComIdentity, value: unknown, options: PushOptions = {}): Promise<XComRecord> {
    return this.#telemetry.operation('push', identityAttributes(identity), (span) =>
      this.#push(identity, value, options, span),
    )
  }

  async #push(
    identity: XComIdentity,
    value: unknown,
    options: PushOptions,
    span: SpanHandle,
  ): Promise<XComRecord> {
    const key = resolveIdentity(identity)
    const expiresAt = options.expiresAt
    if (expiresAt !== undefined && !(expiresAt instanceof Date && Number.isFinite(expiresAt.getTime()))) {
      throw new XComError(
        'E_INVALID_KEY',
        `Invalid expiresAt for ${formatIdentity(key)}: must be a valid Date.`,
      )
    }
    const database = await this.#call('reading the database identity for', key, () => this.#identity())
    const ctx: XComContext = { ...key, recordId: randomUUID(), database }
    const stored = await this.#call('pushing', key, () => this.backend.serializeValue(value, ctx))
    span.set(storedAttributes(stored))
    if (stored.kind === 'reference') this.#telemetry.count('xcom.offloaded.values', 1)
    const record: XComRecord = { ...key, id: ctx.recordId, value: stored, createdAt: this.#now(), expiresAt }
    let replaced: XComRecord | undefined
    try {
      replaced = await this.metadata.put(record)
    } catch (error) {
      // A failed write may still have committed (a connection lost after COMMIT). Only when the row is certainly
      // not ours is the stored value purged now; in doubt it is left to gc(), never deleted under a live row.
      let current: string | undefined | null
      try {
        current = (await this.metadata.get(key))?.id
      } catch {
        current = null // unknown: leave the stored value to gc()
      }
      if (current === record.id) return record // committed after all; the replaced value's purge is queued for gc()
      if (current !== null) await this.#purger.purgeUnwritten(record)
      throw wrap(error, 'writing the row of', key)
    }
    if (replaced) await this.#purger.purge([replaced])
    return record
  }

  /**
   * The value stored under `identity`. `T` is the type the caller expects (nothing checks it at run time); with
   * `{ default }` the result is `T` or the default's type: `pull<Row[]>(id, { default: null })` is `Row[] | null`.
   * @throws XComError `E_NOT_FOUND` naming the XCom and the database looked in when there is none (or it expired),
   * unless `options.default` is given.
   */
  async pull<T = unknown>(identity: XComIdentity): Promise<T>
  async pull<T = unknown>(identity: XComIdentity, options: { default: null }): Promise<T | null>
  async pull<T = unknown>(identity: XComIdentity, options: { default: undefined }): Promise<T | undefined>
  async pull<T = unknown, D = T>(identity: XComIdentity, options: { default: D }): Promise<T | D>
  async pull<T = unknown>(identity: XComIdentity, options?: { default?: never }): Promise<T>
  async pull(identity: XComIdentity, options?: { default?: unknown }): Promise<unknown> {
    return this.#telemetry.operation('pull', identityAttributes(identity), (span) =>
      this.#pull(identity, options, span),
    )
  }

  async #pull(identity: XComIdentity, options: { default?: unknown } | undefined, span: SpanHandle) {
    const key = resolveIdentity(identity)
    const record = await this.#call('reading the row of', key, () => this.metadata.get(key))
    const read =
      record && !this.#expired(record) ? await this.#readCurrent(record, undefined, span) : { gone: record }
    if (!('gone' in read)) return read.value
    span.set({ 'xcom.outcome': 'not_found' })
    if (options && 'default' in options) return options.default
    throw await this.#notFound(
      key,
      read.gone ? ' (it expired)' : '',
      'push it first, or pass { default } to pull',
    )
  }

  /**
   * The stored bytes of a binary value as a stream, without buffering (backends that support it).
   * @throws XComError `E_NOT_FOUND`; `E_BACKEND` when the backend cannot stream this value.
   */
  async pullStream(identity: XComIdentity): Promise<ReadableStream<Bytes>> {
    // The span covers opening the stream; the checksum is verified when the caller reads its end.
    return this.#telemetry.operation('pull_stream', identityAttributes(identity), (span) =>
      this.#pullStream(identity, span),
    )
  }

  async #pullStream(identity: XComIdentity, span: SpanHandle): Promise<ReadableStream<Bytes>> {
    const key = resolveIdentity(identity)
    const record = await this.#call('reading the row of', key, () => this.metadata.get(key))
    const missing = () => this.#notFound(key, '', 'push it first')
    if (!record || this.#expired(record)) throw await missing()
    const open = this.backend.openStream
    if (!open) {
      throw new XComError(
        'E_BACKEND',
        `The backend cannot stream ${formatIdentity(key)}: use pull() instead.`,
        {
          xcom: formatIdentity(key),
        },
      )
    }
    const opened = await this.#readCurrent(
      record,
      (current) =>
        this.#call('streaming', current, async () => {
          if (current.value.kind === 'malformed') throw malformedValue(current.value.reason)
          return open.call(this.backend, current.value, contextOf(current))
        }),
      span,
    )
    if ('gone' in opened) throw await missing()
    return opened.value
  }

  /**
   * Every XCom of one run matching the query's other fields (`taskId`, `mapIndex`, `key`: one value or a list), read
   * with ONE metadata query, in the stable order
   * (taskId, mapIndex, key). Expired values are left out.
   */
  async pullMany<T = unknown>(query: XComQuery & { dagId: string; runId: string }): Promise<PulledXCom<T>[]> {
    return this.#telemetry.operation(
      'pull_many',
      { 'xcom.dag_id': query?.dagId, 'xcom.run_id': query?.runId },
      async (span) => {
        const pulled = await this.#pullMany<T>(query)
        span.set({ 'xcom.pull_many.count': pulled.length })
        return pulled
      },
    )
  }

  async #pullMany<T>(query: XComQuery & { dagId: string; runId: string }): Promise<PulledXCom<T>[]> {
    validateIdentifier('dagId', query?.dagId)
    validateIdentifier('runId', query.runId)
    const records = (await this.metadata.getMany(validateQuery({ ...query }))).filter(
      (record) => !this.#expired(record),
    )
    const pulled = await mapLimit(records, this.#concurrency, async (record) => {
      const read = await this.#readCurrent(record)
      if ('gone' in read) return undefined // cleared while this call ran
      const { dagId, runId, taskId, mapIndex, key } = record
      return { dagId, runId, taskId, mapIndex, key, value: read.value as T }
    })
    return pulled.filter((item) => item !== undefined)
  }

  /** Deletes the selected rows of one DAG and purges their stored values. */
  async clear(query: XComQuery & { dagId: string }): Promise<PurgeReport> {
    return this.#telemetry.operation(
      'clear',
      {
        'xcom.dag_id': query?.dagId,
        'xcom.run_id': typeof query?.runId === 'string' ? query.runId : undefined,
      },
      async (span) => {
        validateIdentifier('dagId', query?.dagId)
        const deleted = await this.metadata.delete(validateQuery({ ...query }))
        const report = { deleted: deleted.length, ...(await this.#purger.purge(deleted)) }
        span.set({
          'xcom.clear.deleted': report.deleted,
          'xcom.clear.purged': report.purged,
          'xcom.clear.failed_purges': report.failedPurges,
        })
        return report
      },
    )
  }

  /** A page of rows for tools (`xcom ls`); values are not read. */
  async list(query: XComQuery = {}, page?: { limit: number; after?: string }): Promise<RecordPage> {
    return this.metadata.list(validateQuery(query), page)
  }

  /**
   * Every record `query` selects, as pages of up to `pageSize` records in `list` order: any number of rows, never
   * all in memory at once. `for await (const page of xcom.pages({ dagId }))`.
   */
  async *pages(query: XComQuery = {}, options: { pageSize?: number } = {}): AsyncIterable<XComRecord[]> {
    let after: string | undefined
    do {
      const page = await this.list(query, { limit: options.pageSize ?? 1000, after })
      yield page.records
      after = page.next
    } while (after !== undefined)
  }

  /** What a UI shows for a row, without downloading. */
  display(record: XComRecord): string {
    if (record.value.kind === 'malformed') return `(malformed row: ${record.value.reason})`
    return this.backend.display(record.value)
  }

  /** Deletes rows whose `expiresAt` has passed and purges their values. */
  async purgeExpired(): Promise<PurgeReport> {
    const deleted = await this.metadata.delete({ expiredBefore: this.#now() })
    return { deleted: deleted.length, ...(await this.#purger.purge(deleted)) }
  }

  /**
   * Retries recorded purges, then lets the backend delete objects no row references that are older than
   * `options.graceMs`. With `dryRun` it only counts: the purges pending and the objects the sweep would delete.
   */
  async gc(options: GcOptions = {}): Promise<GcReport> {
    return this.#telemetry.operation('gc', { 'xcom.gc.dry_run': options.dryRun === true }, async (span) => {
      const report = await this.#purger.gc(options)
      span.set({
        'xcom.gc.purges_retried': report.purgesRetried,
        'xcom.gc.purges_failed': report.purgesFailed,
        'xcom.gc.scanned': report.sweep?.scanned,
        'xcom.gc.deleted': report.sweep?.deleted,
      })
      return report
    })
  }

  /**
   * Re-encrypts the XComs `query` selects under the backend's active key (key rotation), one at a time, streamed, safe
   * against concurrent pulls and pushes, resumable after a crash (see `rotateKeys` in the README of @xcom/encryption).
   * @throws XComError `E_CONFIG` when the backend does not encrypt or the metadata store has no `replaceIf`.
   */
  async rotateKeys(query: XComQuery = {}, options: RotateKeysOptions = {}): Promise<RotationReport> {
    return this.#telemetry.operation(
      'rotate_keys',
      { 'xcom.rotate_keys.dry_run': options.dryRun === true },
      () =>
        rotateKeys(
          {
            metadata: this.metadata,
            backend: this.backend,
            purger: this.#purger,
            telemetry: this.#telemetry,
            identity: () => this.#identity(),
            pages: (selected) => this.pages(selected),
          },
          validateQuery(query),
          options,
        ),
    )
  }

  /**
   * Preflight, for start-up: the metadata database opens and its schema is current, then the backend's own check
   * (object storage: the bucket exists, a probe object is written, read back and deleted, the prefix is this
   * database's). A failed check is reported with a fix, never thrown; the backend is checked even when the database
   * is down.
   */
  async check(): Promise<CheckReport> {
    return runChecks(this.metadata, this.backend, () => this.#identity())
  }

  /** Closes the backend and the metadata store. */
  async close(): Promise<void> {
    await this.backend.close?.()
    await this.metadata.close()
  }

  /** The database's identity, asked once (again after a failure). */
  #identity(): Promise<DatabaseIdentity> {
    if (!this.#database) {
      this.#database = this.metadata.identity()
      this.#database.catch(() => {
        this.#database = undefined
      })
    }
    return this.#database
  }

  /**
   * The record's value, or `gone` when the XCom was cleared while it was read. A value whose object vanished because
   * a concurrent push replaced the row is read again from the new row: the result was current at some moment of the
   * call, and `E_NOT_FOUND` for the object is thrown only while the row still names it.
   */
  async #readCurrent<T = unknown>(
    first: XComRecord,
    read: (record: XComRecord) => Promise<T> = (record) => this.#deserialize(record) as Promise<T>,
    span?: SpanHandle,
  ): Promise<{ value: T } | { gone: undefined }> {
    let record = first
    for (let attempt = 1; ; attempt++) {
      try {
        span?.set(storedAttributes(record.value))
        return { value: await read(record) }
      } catch (error) {
        if (!XComError.is(error, 'E_NOT_FOUND') || attempt >= RACE_RETRIES) throw error
        const current = await this.#call('reading the row of', record, () => this.metadata.get(record))
        if (!current || this.#expired(current)) return { gone: undefined }
        if (current.id === record.id) throw error
        this.#telemetry.logger.info(
          `XCom ${formatIdentity(record)} was replaced while it was read; reading the new value (attempt ${attempt + 1} of ${RACE_RETRIES}).`,
          { xcom: formatIdentity(record) },
        )
        record = current
      }
    }
  }

  async #deserialize(record: XComRecord): Promise<unknown> {
    return this.#call('reading', record, async () => {
      if (record.value.kind === 'malformed') throw malformedValue(record.value.reason)
      return this.backend.deserializeValue(record.value, contextOf(record))
    })
  }

  /**
   * `E_NOT_FOUND` for a missing XCom, naming the database looked in: a relative `sqlite://` path opened from another
   * directory is a new, empty database, and only its name shows that.
   */
  async #notFound(key: XComKey, why: string, hint: string): Promise<XComError> {
    const xcom = formatIdentity(key)
    const database = await this.#identity().then(
      (identity) => identity.description,
      () => undefined,
    )
    const where = database ? ` in ${database}` : ''
    return new XComError('E_NOT_FOUND', `No XCom ${xcom}${why}${where}: ${hint}.`, {
      xcom,
      ...(database ? { uri: database } : {}),
    })
  }

  #expired(record: XComRecord): boolean {
    return record.expiresAt !== undefined && record.expiresAt.getTime() <= this.#now().getTime()
  }

  async #call<T>(action: string, key: XComKey, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      throw wrap(error, action, key)
    }
  }
}

/** How many times a pull reads again after the value it was reading was replaced under it. */
const RACE_RETRIES = 5
