import { randomUUID } from 'node:crypto'
import { BaseXComBackend } from './backend.js'
import { type Env, importExport, readXComConfig, type XComConfig } from './config.js'
import { EnvConnectionResolver } from './connections.js'
import type {
  Bytes,
  ConnectionResolver,
  MetadataStore,
  PushOptions,
  RecordPage,
  StoredValue,
  SweepReport,
  XComBackend,
  XComContext,
  XComIdentity,
  XComKey,
  XComQuery,
  XComRecord,
} from './contracts.js'
import { XComError } from './errors.js'
import { formatIdentity, resolveIdentity, validateIdentifier } from './identity.js'
import { MemoryMetadataStore } from './memory-metadata-store.js'
import { validateQuery } from './query.js'

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

/** What `pullMany` selects: one run's XComs, narrowed by task ids, map indexes and keys. */
export interface PullManyQuery {
  dagId: string
  runId: string
  taskIds?: readonly string[]
  mapIndexes?: readonly number[]
  keys?: readonly string[]
}

/** What `clear` selects: a DAG's XComs, narrowed by any other identity field. */
export interface ClearQuery {
  dagId: string
  runId?: string
  taskId?: string
  mapIndex?: number
  key?: string
}

/** One XCom returned by `pullMany`. */
export interface PulledXCom extends XComKey {
  value: unknown
}

/** What `clear`, `purgeExpired` and `gc` report. */
export interface PurgeReport {
  /** Rows deleted. */
  deleted: number
  /** Stored values whose objects were deleted. */
  purged: number
  /** Purges that failed; they stay recorded and `gc()` retries them. */
  failedPurges: number
}

/** What `gc` reports. */
export interface GcReport {
  /** Recorded purges retried and completed. */
  purgesRetried: number
  /** Recorded purges that failed again. */
  purgesFailed: number
  /** The backend's sweep of unreferenced objects, if it has one. */
  sweep: SweepReport | undefined
}

/** What a backend class may implement to be built by `XCom.fromEnv` (via XCOM_BACKEND). */
export interface BackendEnvContext {
  connections: ConnectionResolver
  config: XComConfig
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
   * connections from XCOM_CONN_<ID> / AIRFLOW_CONN_<ID>.
   * @throws XComError `E_CONFIG` naming the variable and what would be valid.
   */
  static async fromEnv(env: Env = process.env): Promise<XCom> {
    const config = readXComConfig(env)
    const connections = new EnvConnectionResolver(env)
    const metadata = await openMetadataStore(config)
    try {
      return new XCom({ metadata, backend: await loadBackend(config, env, { connections, config }) })
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
    const ctx: XComContext = { ...key, recordId: randomUUID() }
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
   * The value stored under `identity`.
   * @throws XComError `E_NOT_FOUND` when there is none (or it expired), unless `options.default` is given.
   */
  async pull<T = unknown>(identity: XComIdentity, options?: { default?: T }): Promise<T> {
    const key = resolveIdentity(identity)
    const record = await this.#call('reading the row of', key, () => this.metadata.get(key))
    if (!record || this.#expired(record)) {
      if (options && 'default' in options) return options.default as T
      throw new XComError(
        'E_NOT_FOUND',
        `No XCom ${formatIdentity(key)}${record ? ' (it expired)' : ''}: push it first, or pass { default } to pull.`,
        { xcom: formatIdentity(key) },
      )
    }
    return (await this.#deserialize(record)) as T
  }

  /**
   * The stored bytes of a binary value as a stream, without buffering (backends that support it).
   * @throws XComError `E_NOT_FOUND`; `E_BACKEND` when the backend cannot stream this value.
   */
  async pullStream(identity: XComIdentity): Promise<ReadableStream<Bytes>> {
    const key = resolveIdentity(identity)
    const record = await this.#call('reading the row of', key, () => this.metadata.get(key))
    if (!record || this.#expired(record)) {
      throw new XComError('E_NOT_FOUND', `No XCom ${formatIdentity(key)}: push it first.`, {
        xcom: formatIdentity(key),
      })
    }
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
    return this.#call('streaming', key, () => open.call(this.backend, record.value, contextOf(record)))
  }

  /**
   * Every XCom of one run matching the filters, read with ONE metadata query, in the stable order
   * (taskId, mapIndex, key). Expired values are left out.
   */
  async pullMany(query: PullManyQuery): Promise<PulledXCom[]> {
    validateIdentifier('dagId', query?.dagId)
    validateIdentifier('runId', query.runId)
    const storeQuery = validateQuery({
      dagId: query.dagId,
      runId: query.runId,
      taskId: query.taskIds,
      mapIndex: query.mapIndexes,
      key: query.keys,
    })
    const records = (await this.metadata.getMany(storeQuery)).filter((record) => !this.#expired(record))
    return mapLimit(records, this.#concurrency, async (record) => ({
      dagId: record.dagId,
      runId: record.runId,
      taskId: record.taskId,
      mapIndex: record.mapIndex,
      key: record.key,
      value: await this.#deserialize(record),
    }))
  }

  /** Deletes the selected rows and purges their stored values. */
  async clear(query: ClearQuery): Promise<PurgeReport> {
    validateIdentifier('dagId', query?.dagId)
    const deleted = await this.metadata.delete(validateQuery({ ...query }))
    return { deleted: deleted.length, ...(await this.#purgeRecords(deleted)) }
  }

  /** A page of rows for tools (`xcom ls`); values are not read. */
  async list(query: XComQuery = {}, page?: { limit: number; after?: string }): Promise<RecordPage> {
    return this.metadata.list(validateQuery(query), page)
  }

  /** What a UI shows for a row, without downloading. */
  display(record: XComRecord): string {
    return this.backend.display(record.value)
  }

  /** Deletes rows whose `expiresAt` has passed and purges their values. */
  async purgeExpired(): Promise<PurgeReport> {
    const deleted = await this.metadata.delete({ expiredBefore: this.#now() })
    return { deleted: deleted.length, ...(await this.#purgeRecords(deleted)) }
  }

  /**
   * Retries recorded purges, then lets the backend delete objects no row references that are older than `graceMs`.
   * @param options.graceMs objects younger than this are kept (pushes may be in flight). @default 3_600_000 (1 hour)
   * @param options.maxPurges recorded purges retried per call. @default 10_000
   */
  async gc(options: { graceMs?: number; maxPurges?: number } = {}): Promise<GcReport> {
    const graceMs = options.graceMs ?? 3_600_000
    const pending = await this.metadata.pendingPurges(options.maxPurges ?? 10_000)
    const { purged, failedPurges } = await this.#purgeRecords(pending.map((purge) => purge.record))
    const sweep = this.backend.sweep
      ? await this.backend.sweep({ graceMs, referenced: () => this.#referencedValues() })
      : undefined
    return { purgesRetried: purged, purgesFailed: failedPurges, sweep }
  }

  /** Closes the backend and the metadata store. */
  async close(): Promise<void> {
    await this.backend.close?.()
    await this.metadata.close()
  }

  async *#referencedValues(): AsyncIterable<StoredValue> {
    let after: string | undefined
    do {
      const page = await this.metadata.list({}, { limit: 1000, after })
      for (const record of page.records) yield record.value
      after = page.next
    } while (after !== undefined)
    for (const purge of await this.metadata.pendingPurges(Number.MAX_SAFE_INTEGER)) yield purge.record.value
  }

  /**
   * Purges each record's value. Stores queue purges for references only, so only those are resolved; a failure
   * stays recorded for gc().
   */
  async #purgeRecords(records: XComRecord[]): Promise<{ purged: number; failedPurges: number }> {
    const resolved: string[] = []
    let failed = 0
    await mapLimit(records, this.#concurrency, async (record) => {
      try {
        await this.backend.purge(record.value, contextOf(record))
        if (record.value.kind === 'reference') resolved.push(record.id)
      } catch {
        failed++
      }
    })
    if (resolved.length > 0) await this.metadata.resolvePurges(resolved)
    return { purged: records.length - failed, failedPurges: failed }
  }

  async #deserialize(record: XComRecord): Promise<unknown> {
    return this.#call('reading', record, () => this.backend.deserializeValue(record.value, contextOf(record)))
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

/** Maps `items` through `fn` with at most `limit` calls in flight, keeping the order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

async function openMetadataStore(config: XComConfig): Promise<MetadataStore> {
  const { value: url, variable } = config.metadataUrl
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme === 'memory') return new MemoryMetadataStore()
  const pkg =
    scheme === 'sqlite'
      ? '@xcom/sqlite'
      : scheme === 'postgres' || scheme === 'postgresql'
        ? '@xcom/postgres'
        : undefined
  if (!pkg) {
    throw new XComError(
      'E_CONFIG',
      `${variable} has ${scheme ? `the unknown scheme "${scheme}://"` : 'no scheme'}: use memory://, sqlite://path/to/xcom.db or postgres://user@host/db.`,
    )
  }
  const factory = await importExport(`${pkg}#metadataStoreFromUrl`, variable)
  if (typeof factory !== 'function')
    throw new XComError('E_CONFIG', `${pkg} does not export metadataStoreFromUrl(url).`)
  return (await factory(url)) as MetadataStore
}

async function loadBackend(config: XComConfig, env: Env, context: BackendEnvContext): Promise<XComBackend> {
  if (!config.backend) return new BaseXComBackend()
  const { value: spec, variable } = config.backend
  const exported = (await importExport(spec, variable)) as {
    fromEnv?: (env: Env, context: BackendEnvContext) => unknown
    new (): XComBackend
  }
  let backend: unknown = exported
  if (typeof exported === 'function') {
    backend = typeof exported.fromEnv === 'function' ? await exported.fromEnv(env, context) : new exported()
  }
  const hooks = ['serializeValue', 'deserializeValue', 'purge', 'display'] as const
  if (
    typeof backend !== 'object' ||
    backend === null ||
    !hooks.every((hook) => typeof (backend as any)[hook] === 'function')
  ) {
    throw new XComError(
      'E_CONFIG',
      `${variable}=${spec} is not an XCom backend: export a class (optionally with static fromEnv(env, context)) or an object with ${hooks.join(', ')}.`,
    )
  }
  return backend as XComBackend
}
