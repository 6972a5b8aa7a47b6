/*
 * SqliteMetadataStore keeps XCom rows in one SQLite file through Node's built-in node:sqlite.
 *
 * Layout (see schema.ts): `xcom_record` holds one row per XCom, keyed by (dag_id, run_id, task_id, map_index, key)
 * in the stable order; `kind` says whether `data` (inline text) or `ref` (a JSON reference) is set.
 * `xcom_pending_purge` is the outbox of references still to delete, written in the same transaction as the row change
 * that caused it. `xcom_schema` records the applied schema versions; `xcom_database` holds the database's identity.
 *
 * SQLite stores any value in any column, so rows are read defensively (see rows.ts and cursor.ts): integers as
 * bigints (none too large to read), a row xcom cannot decode as a `malformed` value, a damaged key or id carried
 * byte for byte so that paging and purge resolution still find it.
 *
 * Concurrency: node:sqlite is synchronous, so each method runs to completion without yielding; every write is one
 * `BEGIN IMMEDIATE` transaction, which takes the database's write lock up front (waiting up to `busyTimeoutMs` for
 * other processes). WAL mode lets readers in other processes proceed while a write is in progress.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import {
  type DatabaseIdentity,
  type MetadataStore,
  type PendingPurge,
  type RecordPage,
  XComError,
  type XComKey,
  type XComQuery,
  type XComRecord,
} from '@xcom/core'
import { keyValues, pageLimit, recordValues } from '@xcom/core/adapter'
import { isPlainKey, plainCursor, readCursor, TYPED_KEY, typedCursor } from './cursor.ts'
import { sqliteError } from './errors.ts'
import { PURGE_ID_COLUMNS, pendingPurgeOf, type Row, recordOf, unreadableId } from './rows.ts'
import {
  IDENTITY_INSERT,
  IDENTITY_SELECT,
  KEY_COLUMNS,
  MIGRATIONS,
  PACKAGE_VERSION,
  RECORD_COLUMNS,
  SCHEMA_TABLE_DDL,
  SCHEMA_VERSION,
  TABLE_NAMES,
} from './schema.ts'
import { keysetAfter, whereOf } from './sql.ts'

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
const UNREADABLE_PURGE = 'rowid = ? AND typeof(id) = ? AND hex(id) = ?'
const KEY_WHERE = 'dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?'
/** Database ids: what object storage accepts in its claim and object metadata. */
const DATABASE_ID = /^[A-Za-z0-9_-]{1,64}$/

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
      const key = keyValues(record)
      const old = this.#statement(SELECT_ONE).get(...key)
      if (old?.kind === 'reference') this.#statement(QUEUE_PURGES(KEY_WHERE)).run(Date.now(), ...key)
      this.#statement(UPSERT).run(...recordValues(record, (date) => date.getTime()))
      return old && recordOf(old)
    })
    return replaced
  }

  async replaceIf(record: XComRecord, expectedId: string): Promise<XComRecord | undefined> {
    return this.#write('rewriting a row', () => {
      const key = keyValues(record)
      const old = this.#statement(SELECT_ONE).get(...key)
      if (old?.id !== expectedId) return undefined
      if (old.kind === 'reference') this.#statement(QUEUE_PURGES(KEY_WHERE)).run(Date.now(), ...key)
      this.#statement(UPSERT).run(...recordValues(record, (date) => date.getTime()))
      return recordOf(old)
    })
  }

  async get(id: XComKey): Promise<XComRecord | undefined> {
    const row = this.#run('reading a row', () => this.#statement(SELECT_ONE).get(...keyValues(id)))
    return row && recordOf(row)
  }

  async getMany(query: XComQuery): Promise<XComRecord[]> {
    const { where, params } = whereOf(query)
    const sql = `SELECT ${RECORD_COLUMNS} FROM xcom_record WHERE ${where} ORDER BY ${KEY_COLUMNS}`
    return this.#run('reading rows', () => this.#statement(sql).all(...params)).map(recordOf)
  }

  async delete(query: XComQuery): Promise<XComRecord[]> {
    const { where, params } = whereOf(query)
    const deleted = this.#write('deleting rows', () => {
      const rows = this.#statement(
        `SELECT ${RECORD_COLUMNS} FROM xcom_record WHERE ${where} ORDER BY ${KEY_COLUMNS}`,
      ).all(...params)
      if (rows.length === 0) return []
      this.#statement(QUEUE_PURGES(where)).run(Date.now(), ...params)
      this.#statement(`DELETE FROM xcom_record WHERE ${where}`).run(...params)
      return rows.map(recordOf)
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
    let sql = `SELECT ${RECORD_COLUMNS}, rowid AS xcom_rowid FROM xcom_record WHERE ${where}`
    if (page.after !== undefined) {
      const keyset = keysetAfter(query, readCursor(page.after))
      if (keyset === 'none') return { records: [], next: undefined }
      if (keyset !== 'all') {
        sql += ` AND ${keyset.condition}`
        params.push(...keyset.params)
      }
    }
    sql += ` ORDER BY ${KEY_COLUMNS} LIMIT ?`
    // One read transaction: a damaged last key is read again by rowid, from the same snapshot.
    const { rows, next } = this.#read('listing rows', () => {
      const rows = this.#statement(sql).all(...params, limit + 1)
      const last = rows.length > limit ? rows[limit - 1] : undefined
      return { rows: rows.slice(0, limit), next: last && this.#cursorOf(last) }
    })
    return { records: rows.map(recordOf), next }
  }

  async pendingPurges(limit: number): Promise<PendingPurge[]> {
    const sql = `SELECT ${RECORD_COLUMNS}, queued_at, ${PURGE_ID_COLUMNS} FROM xcom_pending_purge ORDER BY queued_at, id LIMIT ?`
    const rows = this.#run('reading pending purges', () =>
      this.#statement(sql).all(Math.max(0, Math.floor(limit))),
    )
    return rows.map(pendingPurgeOf)
  }

  /** Also takes the ids `pendingPurges` makes up for rows whose own id does not read back (a blob, invalid UTF-8). */
  async resolvePurges(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    const list = JSON.stringify(ids)
    this.#run('resolving purges', () => {
      // A read first: a DELETE would take the database's write lock even when none of the ids is pending (records
      // that were never queued and that this store did not return). The DELETE is its own transaction.
      if (
        this.#statement(`SELECT 1 FROM xcom_pending_purge WHERE ${PURGE_IDS} LIMIT 1`).get(list) !== undefined
      )
        this.#statement(`DELETE FROM xcom_pending_purge WHERE ${PURGE_IDS}`).run(list)
      for (const unreadable of ids.map(unreadableId)) {
        if (unreadable === undefined) continue
        const { rowid, type, hex } = unreadable
        this.#statement(`DELETE FROM xcom_pending_purge WHERE ${UNREADABLE_PURGE}`).run(rowid, type, hex)
      }
    })
  }

  /**
   * The database's identity: a random id stored in `xcom_database` when the schema was created (or migrated to
   * version 2), and `sqlite://<absolute path>` (or `sqlite://:memory:`).
   * @throws XComError `E_CORRUPT` when the stored id was damaged (it is never replaced: object storage knows it).
   */
  async identity(): Promise<DatabaseIdentity> {
    const action = 'reading the database identity'
    let found = this.#run(action, () => this.#statement(IDENTITY_SELECT).get())
    // The row is created with the schema; only a deleted one is created again here.
    found ??= this.#write(action, () => {
      this.#statement(IDENTITY_INSERT).run(randomUUID(), Date.now())
      return this.#statement(IDENTITY_SELECT).get()
    })
    const id = found?.id
    if (typeof id !== 'string' || !DATABASE_ID.test(id)) {
      throw new XComError(
        'E_CORRUPT',
        `The identity of the SQLite metadata database ${this.location} (table xcom_database) is damaged: its id is not 1-64 characters of A-Z, a-z, 0-9, _ and -. ` +
          'Restore the database from a backup, or set xcom_database.id back to the databaseId of the xcom-database.json claim in your object storage prefix.',
        { uri: `sqlite://${this.location}` },
      )
    }
    return { id, description: `sqlite://${this.location}` }
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
      // In the migrating transaction: processes opening a new database at once agree on one id.
      if (version < SCHEMA_VERSION) this.#db.prepare(IDENTITY_INSERT).run(randomUUID(), Date.now())
      this.#db.exec('COMMIT')
    } catch (error) {
      rollback(this.#db)
      if (/already exists/.test(String((error as Error)?.message))) {
        throw new XComError(
          'E_CONFIG',
          `The SQLite database ${this.location} already has a table named like xcom's (${TABLE_NAMES}) that @xcom/sqlite did not create: ` +
            'point XCOM_METADATA_URL at a file of its own.',
          { cause: error, uri: `sqlite://${this.location}` },
        )
      }
      throw error
    }
  }

  /** The cursor naming a row's key exactly (read again, typed, when it does not read back unchanged). */
  #cursorOf(row: Row): string {
    if (isPlainKey(row)) return plainCursor(row)
    const typed = this.#statement(TYPED_KEY).get(row.xcom_rowid as bigint)
    // Unreachable inside the read transaction; a plain cursor is still a valid one.
    return typed ? typedCursor(typed) : plainCursor(row)
  }

  /** A cached statement. Integers read as bigints: node:sqlite throws on one beyond 2^53 read as a number. */
  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql)
    if (!statement) {
      statement = this.#db.prepare(sql)
      statement.setReadBigInts(true)
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

  /** Runs `run` in one read transaction (or the caller's open one): its statements see one snapshot. */
  #read<T>(action: string, run: () => T): T {
    // isTransaction is missing before Node 22.16.
    if ((this.#db as { isTransaction?: boolean }).isTransaction === true) return this.#run(action, run)
    return this.#run(action, () => {
      this.#statement('BEGIN').run()
      try {
        return run()
      } finally {
        rollback(this.#db)
      }
    })
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
