import { randomUUID } from 'node:crypto'
import { BaseXComBackend, malformedValue } from './backend.ts'
import { type CheckReport, runChecks } from './check.ts'
import { mapLimit } from './concurrency.ts'
import { type Env, readXComConfig } from './config.ts'
import { EnvConnectionResolver } from './connections.ts'
import type {
  Bytes,
  DatabaseIdentity,
  MetadataStore,
  PushOptions,
  RecordPage,
  SweepReport,
  XComBackend,
  XComContext,
  XComIdentity,
  XComKey,
  XComQuery,
  XComRecord,
} from './contracts.ts'
import { XComError } from './errors.ts'
import { applySerializers, loadBackend, openMetadataStore, type XComFromEnvOptions } from './from-env.ts'
import { formatIdentity, resolveIdentity, validateIdentifier } from './identity.ts'
import { validateQuery } from './query.ts'

/** Options of {@link XCom}. */
export interface XComOptions {
  /** Where rows live. */
  metadata: MetadataStore
  /** How values are stored. @default new BaseXComBackend() (everything inline) */
  backend?: XComBackend
  /** The clock, for tests. @default () => new Date() */
  now?: () => Date
  /** How many values `pullMany` and purges handle at once. @default 8 */
  concurrency?: number
}

/** One XCom returned by `pullMany`; `T` is the type the caller expects its value to have. */
export interface PulledXCom<T = unknown> extends XComKey {
  value: T
}

/** What `clear`, `purgeExpired` and `gc` report. */
export interface PurgeReport {
  /** Rows deleted. */
  deleted: number
  /** Stored values whose objects were deleted (inline values own no object and are not counted). */
  purged: number
  /** Purges that failed; they stay recorded and `gc()` retries them. */
  failedPurges: number
}

/** What `gc` reports. In a dry run the counts are what it would do; nothing was deleted or retried. */
export interface GcReport {
  /** True when nothing was deleted (`gc({ dryRun: true })`). */
  dryRun: boolean
  /** Recorded purges retried and completed (in a dry run: the purges pending, which a real run would retry). */
  purgesRetried: number
  /** Recorded purges that failed again (0 in a dry run). */
  purgesFailed: number
  /** The backend's sweep of unreferenced objects, if it has one. */
  sweep: SweepReport | undefined
}

/** Options of {@link XCom.gc}. */
export interface GcOptions {
  /** Objects younger than this are kept (pushes may be in flight). @default 3_600_000 (1 hour) */
  graceMs?: number
  /** Recorded purges retried per call. @default 10_000 */
  maxPurges?: number
  /** Count what would be retried and deleted, and delete nothing. @default false */
  dryRun?: boolean
  /** Called as the work advances, for progress bars on long sweeps (see {@link GcProgress}). */
  onProgress?: (progress: GcProgress) => void
}

/** How far `gc` has come: `phase` is the step under way, `done` counts its items, `total` when it is known. */
export interface GcProgress {
  /** `purges`: retrying recorded purges; `sweep`: listing the store and deleting what no row references. */
  phase: 'purges' | 'sweep'
  /** Purges retried, or objects scanned. */
  done: number
  /** The purges to retry; absent for the sweep, whose listing is not counted beforehand. */
  total?: number
}

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
    const config = readXComConfig(env)
    const connections = new EnvConnectionResolver(env)
    const metadata = await openMetadataStore(config)
    try {
      const { serializer } = options
      const backend = await loadBackend(config, env, {
        connections,
        config,
        ...(serializer ? { serializer } : {}),
      })
      await applySerializers(backend, config, options)
      return new XCom({ metadata, backend })
    } catch (error) {
      await metadata.close()
      throw error
    }
  }

  /**
   * Stores `value` under `identity`, replacing (and purging) any previous value.
   * @throws XComError `E_INVALID_KEY` before any I/O; serializer and backend errors naming the XCom.
   */
  async push(identity: XComIdentity, value: unknown, options: PushOptions = {}): Promise<XComRecord> {
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
      if (current !== null) await this.backend.purge(stored, ctx).catch(() => {})
      throw wrap(error, 'writing the row of', key)
    }
    if (replaced) await this.#purgeRecords([replaced])
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
    const key = resolveIdentity(identity)
    const record = await this.#call('reading the row of', key, () => this.metadata.get(key))
    const read = record && !this.#expired(record) ? await this.#readCurrent(record) : { gone: record }
    if (!('gone' in read)) return read.value
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
    const opened = await this.#readCurrent(record, (current) =>
      this.#call('streaming', current, async () => {
        if (current.value.kind === 'malformed') throw malformedValue(current.value.reason)
        return open.call(this.backend, current.value, contextOf(current))
      }),
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
    validateIdentifier('dagId', query?.dagId)
    const deleted = await this.metadata.delete(validateQuery({ ...query }))
    return { deleted: deleted.length, ...(await this.#purgeRecords(deleted)) }
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
    return { deleted: deleted.length, ...(await this.#purgeRecords(deleted)) }
  }

  /**
   * Retries recorded purges, then lets the backend delete objects no row references that are older than
   * `options.graceMs`. With `dryRun` it only counts: the purges pending and the objects the sweep would delete.
   */
  async gc(options: GcOptions = {}): Promise<GcReport> {
    const { graceMs = 3_600_000, dryRun = false, onProgress } = options
    const pending = (await this.metadata.pendingPurges(options.maxPurges ?? 10_000)).map((p) => p.record)
    const purges = dryRun
      ? { purged: pending.length, failedPurges: 0 }
      : await this.#purgeRecords(pending, (done) =>
          onProgress?.({ phase: 'purges', done, total: pending.length }),
        )
    const sweep = this.backend.sweep
      ? await this.backend.sweep({
          graceMs,
          database: await this.#identity(),
          referenced: () => this.#referencedRecords(),
          dryRun,
          ...(onProgress
            ? { onProgress: (scanned: number) => onProgress({ phase: 'sweep', done: scanned }) }
            : {}),
        })
      : undefined
    return { dryRun, purgesRetried: purges.purged, purgesFailed: purges.failedPurges, sweep }
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

  async *#referencedRecords(): AsyncIterable<XComRecord> {
    for await (const page of this.pages({})) yield* page
    for (const purge of await this.metadata.pendingPurges(Number.MAX_SAFE_INTEGER)) yield purge.record
  }

  /**
   * Purges each record's value. Stores queue purges for references only, so only those are resolved; a failure
   * stays recorded for gc(). A malformed row, or a reference that names no object of its XCom (`E_CORRUPT`), owns
   * nothing that could be deleted: its purge is resolved, and the sweep collects any object it left.
   */
  async #purgeRecords(
    records: XComRecord[],
    onDone?: (done: number) => void,
  ): Promise<{ purged: number; failedPurges: number }> {
    const resolved: string[] = []
    let purged = 0
    let failed = 0
    let done = 0
    await mapLimit(records, this.#concurrency, async (record) => {
      if (record.value.kind !== 'inline')
        try {
          if (record.value.kind === 'reference') {
            await this.backend.purge(record.value, contextOf(record))
            purged++
          }
          resolved.push(record.id)
        } catch (error) {
          if (XComError.is(error, 'E_CORRUPT')) resolved.push(record.id)
          else failed++
        }
      done++
      onDone?.(done)
    })
    if (resolved.length > 0) await this.metadata.resolvePurges(resolved)
    return { purged, failedPurges: failed }
  }

  /**
   * The record's value, or `gone` when the XCom was cleared while it was read. A value whose object vanished because
   * a concurrent push replaced the row is read again from the new row: the result was current at some moment of the
   * call, and `E_NOT_FOUND` for the object is thrown only while the row still names it.
   */
  async #readCurrent<T = unknown>(
    first: XComRecord,
    read: (record: XComRecord) => Promise<T> = (record) => this.#deserialize(record) as Promise<T>,
  ): Promise<{ value: T } | { gone: undefined }> {
    let record = first
    for (let attempt = 1; ; attempt++) {
      try {
        return { value: await read(record) }
      } catch (error) {
        if (!XComError.is(error, 'E_NOT_FOUND') || attempt >= RACE_RETRIES) throw error
        const current = await this.#call('reading the row of', record, () => this.metadata.get(record))
        if (!current || this.#expired(current)) return { gone: undefined }
        if (current.id === record.id) throw error
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

function contextOf(record: XComRecord): XComContext {
  return {
    dagId: record.dagId,
    runId: record.runId,
    taskId: record.taskId,
    mapIndex: record.mapIndex,
    key: record.key,
    recordId: record.id,
  }
}

/** Names the XCom in an error: an XComError keeps its code; anything else becomes `E_BACKEND`. */
function wrap(error: unknown, action: string, key: XComKey): XComError {
  const xcom = formatIdentity(key)
  if (XComError.is(error)) {
    if (error.xcom !== undefined) return error
    return new XComError(error.code, `${capitalize(action)} XCom ${xcom}: ${error.message}`, {
      cause: error.cause ?? error,
      xcom,
      uri: error.uri,
      path: error.path,
    })
  }
  return new XComError(
    'E_BACKEND',
    `${capitalize(action)} XCom ${xcom} failed: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
      xcom,
    },
  )
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
