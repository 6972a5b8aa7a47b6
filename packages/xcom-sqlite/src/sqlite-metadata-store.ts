/*
 * SqliteMetadataStore keeps XCom rows in one SQLite file through Node's built-in node:sqlite.
 *
 * Layout (see schema.ts): `xcom_record` holds one row per XCom, keyed by (dag_id, run_id, task_id, map_index, key)
 * in the stable order; `kind` says whether `data` (inline text) or `ref` (a JSON reference) is set.
 * `xcom_pending_purge` is the outbox of references still to delete, written in the same transaction as the row change
 * that caused it. `xcom_schema` records the applied schema versions.
 *
 * Concurrency: node:sqlite is synchronous, so each method runs to completion without yielding; every write is one
 * `BEGIN IMMEDIATE` transaction, which takes the database's write lock up front (waiting up to `busyTimeoutMs` for
 * other processes). WAL mode lets readers in other processes proceed while a write is in progress.
 */
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'
import {
  decodeCursor,
  encodeCursor,
  type MetadataStore,
  type PendingPurge,
  queryValues,
  type RecordPage,
  type StoredValue,
  XComError,
  type XComKey,
  type XComQuery,
  type XComRecord,
} from '@xcom/core'
import { sqliteError } from './errors.js'
import {
  KEY_COLUMNS,
  MIGRATIONS,
  PACKAGE_VERSION,
  RECORD_COLUMNS,
  SCHEMA_TABLE_DDL,
  SCHEMA_VERSION,
} from './schema.js'

/** Options shared by both ways of building a {@link SqliteMetadataStore}. */
export interface SqliteCommonOptions {
  /**
   * How long a write waits for another connection (another process) to release the write lock before failing with
   * `E_BACKEND`, in milliseconds. Applied only to a database this store opens itself (`path`).
   * @default 5000
   */
  busyTimeoutMs?: number
}

/** Open (and create) the database file at `path`. */
export interface SqlitePathOptions extends SqliteCommonOptions {
  /**
   * The database file, relative to the working directory or absolute; missing parent directories are created.
   * `:memory:` keeps everything in memory for the life of the store.
   */
  path: string
  database?: never
}

/** Use a database the caller opened; the store never closes it and leaves its journal mode and timeouts alone. */
export interface SqliteDatabaseOptions extends SqliteCommonOptions {
  /** An open node:sqlite database. */
  database: DatabaseSync
  path?: never
}

/** Options of {@link SqliteMetadataStore}: either a `path` to open or an open `database`. */
export type SqliteMetadataStoreOptions = SqlitePathOptions | SqliteDatabaseOptions

/** A row of `xcom_record` (or of `xcom_pending_purge`, which adds `queued_at`). */
interface Row {
  dag_id: string
  run_id: string
  task_id: string
  map_index: number
  key: string
  id: string
  kind: 'inline' | 'reference'
  data: string | null
  ref: string | null
  size: number
  created_at: number
  expires_at: number | null
  queued_at?: number
}

/** Default number of records per `list` page when no page is given. */
const DEFAULT_PAGE_LIMIT = 1000

const SELECT_ONE = `SELECT ${RECORD_COLUMNS} FROM xcom_record
  WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?`
const UPSERT = `INSERT INTO xcom_record (${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (${KEY_COLUMNS}) DO UPDATE SET id = excluded.id, kind = excluded.kind, data = excluded.data,
  ref = excluded.ref, size = excluded.size, created_at = excluded.created_at, expires_at = excluded.expires_at`
const QUEUE_PURGES = (where: string) => `INSERT INTO xcom_pending_purge (${RECORD_COLUMNS}, queued_at)
  SELECT ${RECORD_COLUMNS}, ? FROM xcom_record WHERE kind = 'reference' AND ${where} ON CONFLICT (id) DO NOTHING`
const PURGE_IDS = 'id IN (SELECT value FROM json_each(?))'
const KEY_WHERE = 'dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?'

/**
 * A {@link MetadataStore} in an SQLite file, on Node's built-in `node:sqlite` (no dependency): the embedded
 * default. Several processes can share one file (WAL mode, a busy timeout, `BEGIN IMMEDIATE` writes). The schema
 * is created or migrated when the store opens.
 *
 * @throws XComError `E_CONFIG` when the file was written by a newer @xcom/sqlite or holds foreign tables of the
 *   same names; `E_PERMISSION_DENIED` when the file or its directory cannot be written; `E_CORRUPT` when the file
 *   is not an SQLite database.
 */
export class SqliteMetadataStore implements MetadataStore {
  /** The database file (absolute) or `:memory:`, for messages. */
  readonly location: string
  readonly #db: DatabaseSync
  readonly #owned: boolean
  readonly #statements = new Map<string, StatementSync>()
  #closed = false

  constructor(options: SqliteMetadataStoreOptions) {
    if (options?.database !== undefined) {
      this.#db = options.database
      this.#owned = false
      // location() is null for an in-memory database, and missing before Node 23.11.
      const db = options.database
      this.location = typeof db.location === 'function' ? (db.location() ?? ':memory:') : '(given database)'
    } else {
      const path = options?.path
      if (typeof path !== 'string' || path.length === 0) {
        throw new XComError(
          'E_CONFIG',
          'new SqliteMetadataStore() needs { path } (e.g. ".xcom/xcom.db") or { database }.',
        )
      }
      this.location = path === ':memory:' ? path : resolve(path)
      this.#owned = true
      const busyTimeoutMs = options.busyTimeoutMs ?? 5000
      if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
        throw new XComError(
          'E_CONFIG',
          `Invalid busyTimeoutMs ${String(busyTimeoutMs)}: use a whole number of milliseconds >= 0, e.g. 5000.`,
        )
      }
      this.#db = this.#open(busyTimeoutMs)
    }
    try {
      this.#migrate()
    } catch (error) {
      if (this.#owned) this.#db.close()
      throw sqliteError(error, 'creating or migrating the schema', this.location)
    }
  }

  async put(record: XComRecord): Promise<XComRecord | undefined> {
    const replaced = this.#write('writing a row', () => {
      const key = keyParams(record)
      const old = this.#statement(SELECT_ONE).get(...key) as Row | undefined
      if (old?.kind === 'reference') this.#statement(QUEUE_PURGES(KEY_WHERE)).run(Date.now(), ...key)
      this.#statement(UPSERT).run(...recordParams(record))
      return old && toRecord(old)
    })
    return replaced
  }

  async get(id: XComKey): Promise<XComRecord | undefined> {
    const row = this.#run('reading a row', () => this.#statement(SELECT_ONE).get(...keyParams(id))) as
      | Row
      | undefined
    return row && toRecord(row)
  }

  async getMany(query: XComQuery): Promise<XComRecord[]> {
    const { where, params } = whereOf(query)
    const sql = `SELECT ${RECORD_COLUMNS} FROM xcom_record WHERE ${where} ORDER BY ${KEY_COLUMNS}`
    return (this.#run('reading rows', () => this.#statement(sql).all(...params)) as unknown as Row[]).map(
      toRecord,
    )
  }

  async delete(query: XComQuery): Promise<XComRecord[]> {
    const { where, params } = whereOf(query)
    const deleted = this.#write('deleting rows', () => {
      const rows = this.#statement(
        `SELECT ${RECORD_COLUMNS} FROM xcom_record WHERE ${where} ORDER BY ${KEY_COLUMNS}`,
      ).all(...params) as unknown as Row[]
      if (rows.length === 0) return []
      this.#statement(QUEUE_PURGES(where)).run(Date.now(), ...params)
      this.#statement(`DELETE FROM xcom_record WHERE ${where}`).run(...params)
      return rows.map(toRecord)
    })
    return deleted
  }

  /** @throws XComError `E_INVALID_KEY` for a cursor not made by this method or a limit that is not a positive integer. */
  async list(
    query: XComQuery,
    page: { limit: number; after?: string | undefined } = { limit: DEFAULT_PAGE_LIMIT },
  ): Promise<RecordPage> {
    const limit = pageLimit(page.limit)
    const { where, params } = whereOf(query)
    let sql = `SELECT ${RECORD_COLUMNS} FROM xcom_record WHERE ${where}`
    if (page.after !== undefined) {
      const keyset = keysetAfter(query, decodeCursor(page.after))
      if (keyset === 'none') return { records: [], next: undefined }
      if (keyset !== 'all') {
        sql += ` AND (${keyset.columns.join(', ')}) > (${keyset.values.map(() => '?').join(', ')})`
        params.push(...keyset.values)
      }
    }
    sql += ` ORDER BY ${KEY_COLUMNS} LIMIT ?`
    const rows = this.#run('listing rows', () =>
      this.#statement(sql).all(...params, limit + 1),
    ) as unknown as Row[]
    const records = rows.slice(0, limit).map(toRecord)
    const last = records.at(-1)
    return { records, next: rows.length > limit && last ? encodeCursor(last) : undefined }
  }

  async pendingPurges(limit: number): Promise<PendingPurge[]> {
    const sql = `SELECT ${RECORD_COLUMNS}, queued_at FROM xcom_pending_purge ORDER BY queued_at, id LIMIT ?`
    const rows = this.#run('reading pending purges', () =>
      this.#statement(sql).all(Math.max(0, Math.floor(limit))),
    )
    return (rows as unknown as Row[]).map((row) => ({
      id: row.id,
      record: toRecord(row),
      queuedAt: new Date(row.queued_at ?? 0),
    }))
  }

  async resolvePurges(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    const list = JSON.stringify(ids)
    this.#run('resolving purges', () => {
      // A read first: a DELETE would take the database's write lock even when none of the ids is pending (records
      // that were never queued and that this store did not return). The DELETE is its own transaction.
      if (
        this.#statement(`SELECT 1 FROM xcom_pending_purge WHERE ${PURGE_IDS} LIMIT 1`).get(list) === undefined
      )
        return
      this.#statement(`DELETE FROM xcom_pending_purge WHERE ${PURGE_IDS}`).run(list)
    })
  }

  /** Closes the database if this store opened it; later calls fail with `E_BACKEND`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    if (this.#owned) this.#db.close()
  }

  #open(busyTimeoutMs: number): DatabaseSync {
    try {
      if (this.location !== ':memory:') mkdirSync(dirname(this.location), { recursive: true })
      const db = new DatabaseSync(this.location)
      try {
        // The busy timeout comes first: switching to WAL needs a lock another process may briefly hold.
        db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`)
        db.exec('PRAGMA journal_mode = WAL')
        // FULL, not NORMAL: a committed row change must survive a power loss before the facade purges the replaced
        // object, or the database could roll back to a row pointing at a deleted object.
        db.exec('PRAGMA synchronous = FULL')
      } catch (error) {
        db.close()
        throw error
      }
      return db
    } catch (error) {
      throw sqliteError(error, 'opening', this.location)
    }
  }

  /** Creates the tables or migrates them forward, in one transaction; refuses a newer schema. */
  #migrate(): void {
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      this.#db.exec(SCHEMA_TABLE_DDL)
      const found = this.#db
        .prepare('SELECT version, package_version FROM xcom_schema ORDER BY version DESC LIMIT 1')
        .get() as { version: number; package_version: string } | undefined
      const version = found?.version ?? 0
      if (version > SCHEMA_VERSION) {
        throw new XComError(
          'E_CONFIG',
          `The SQLite metadata database ${this.location} has schema version ${version}, written by @xcom/sqlite ${found?.package_version}; ` +
            `this @xcom/sqlite ${PACKAGE_VERSION} reads up to version ${SCHEMA_VERSION}: upgrade @xcom/sqlite to ${found?.package_version} or later.`,
          { uri: `sqlite://${this.location}` },
        )
      }
      for (let next = version; next < SCHEMA_VERSION; next++) {
        this.#db.exec(MIGRATIONS[next] as string)
        this.#db
          .prepare('INSERT INTO xcom_schema (version, package_version, applied_at) VALUES (?, ?, ?)')
          .run(next + 1, PACKAGE_VERSION, Date.now())
      }
      this.#db.exec('COMMIT')
    } catch (error) {
      rollback(this.#db)
      if (/already exists/.test(String((error as Error)?.message))) {
        throw new XComError(
          'E_CONFIG',
          `The SQLite database ${this.location} already has a table named like xcom's (xcom_record or xcom_pending_purge) that @xcom/sqlite did not create: ` +
            'point XCOM_METADATA_URL at a file of its own.',
          { cause: error, uri: `sqlite://${this.location}` },
        )
      }
      throw error
    }
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql)
    if (!statement) {
      statement = this.#db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  /** Runs one statement (its own transaction), mapping errors. */
  #run<T>(action: string, run: () => T): T {
    this.#checkOpen(action)
    try {
      return run()
    } catch (error) {
      throw sqliteError(error, action, this.location)
    }
  }

  /** Runs `run` in one `BEGIN IMMEDIATE` transaction: all of it commits, or none of it. */
  #write<T>(action: string, run: () => T): T {
    this.#checkOpen(action)
    try {
      this.#statement('BEGIN IMMEDIATE').run()
      try {
        const result = run()
        this.#statement('COMMIT').run()
        return result
      } catch (error) {
        rollback(this.#db)
        throw error
      }
    } catch (error) {
      throw sqliteError(error, action, this.location)
    }
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new XComError(
        'E_BACKEND',
        `Cannot do "${action}": the SqliteMetadataStore for ${this.location} is closed.`,
        {
          uri: `sqlite://${this.location}`,
        },
      )
    }
  }
}

/** Rolls back the open transaction, if any (SQLite may already have rolled back, e.g. after SQLITE_FULL). */
function rollback(db: DatabaseSync): void {
  try {
    db.exec('ROLLBACK')
  } catch {}
}

function keyParams(key: XComKey): SQLInputValue[] {
  return [key.dagId, key.runId, key.taskId, key.mapIndex, key.key]
}

function recordParams(record: XComRecord): SQLInputValue[] {
  const { value } = record
  return [
    ...keyParams(record),
    record.id,
    value.kind,
    value.kind === 'inline' ? value.data : null,
    value.kind === 'reference' ? JSON.stringify(value.ref) : null,
    value.size,
    record.createdAt.getTime(),
    record.expiresAt === undefined ? null : record.expiresAt.getTime(),
  ]
}

function toRecord(row: Row): XComRecord {
  const value: StoredValue =
    row.kind === 'reference'
      ? { kind: 'reference', ref: JSON.parse(row.ref ?? 'null'), size: row.size }
      : { kind: 'inline', data: row.data ?? '', size: row.size }
  return {
    dagId: row.dag_id,
    runId: row.run_id,
    taskId: row.task_id,
    mapIndex: row.map_index,
    key: row.key,
    id: row.id,
    value,
    createdAt: new Date(row.created_at),
    expiresAt: row.expires_at === null ? undefined : new Date(row.expires_at),
  }
}

/**
 * The WHERE clause of a query, its values as parameters (never in the SQL text). A list becomes one parameter, a
 * JSON array read with json_each, so 10,000 map indexes are still one statement with one placeholder.
 */
function whereOf(query: XComQuery): { where: string; params: SQLInputValue[] } {
  const clauses: string[] = []
  const params: SQLInputValue[] = []
  const scalar = (column: string, value: string | undefined) => {
    if (value === undefined) return
    clauses.push(`${column} = ?`)
    params.push(value)
  }
  const list = (column: string, field: string | number | readonly (string | number)[] | undefined) => {
    const values = queryValues(field)
    if (values === undefined) return
    if (values.length === 1) {
      clauses.push(`${column} = ?`)
      params.push(values[0] as string | number)
    } else {
      clauses.push(`${column} IN (SELECT value FROM json_each(?))`)
      params.push(JSON.stringify(values))
    }
  }
  scalar('dag_id', query.dagId)
  scalar('run_id', query.runId)
  list('task_id', query.taskId)
  list('map_index', query.mapIndex)
  list('key', query.key)
  if (query.expiredBefore !== undefined) {
    clauses.push('expires_at < ?')
    params.push(query.expiredBefore.getTime())
  }
  if (query.createdBefore !== undefined) {
    clauses.push('created_at < ?')
    params.push(query.createdBefore.getTime())
  }
  return { where: clauses.length > 0 ? clauses.join(' AND ') : 'TRUE', params }
}

/**
 * The keyset condition selecting the rows after cursor `after`. The query's own dagId (and runId) fix the leading key
 * columns, so the cursor is compared on them here and the row value covers only the rest: the index then seeks
 * straight to the cursor instead of reading the run from its start. `all`: every selected row follows the cursor;
 * `none`: none does.
 */
function keysetAfter(
  query: XComQuery,
  after: XComKey,
): { columns: string[]; values: SQLInputValue[] } | 'all' | 'none' {
  const values = keyParams(after)
  const fixed =
    query.dagId === undefined ? [] : query.runId === undefined ? [query.dagId] : [query.dagId, query.runId]
  for (const [index, value] of fixed.entries()) {
    // UTF-8 byte order is SQLite's BINARY collation.
    const order = Buffer.compare(Buffer.from(String(values[index])), Buffer.from(value))
    if (order < 0) return 'all'
    if (order > 0) return 'none'
  }
  return { columns: KEY_COLUMNS.split(', ').slice(fixed.length), values: values.slice(fixed.length) }
}

function pageLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new XComError('E_INVALID_KEY', `Invalid page limit ${String(limit)}: must be a positive integer.`)
  }
  return limit
}
