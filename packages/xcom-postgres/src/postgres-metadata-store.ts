/*
 * PostgresMetadataStore keeps XCom rows in a PostgreSQL schema through a pg pool.
 *
 * Layout (see schema.ts): `xcom_record` holds one row per XCom, keyed by (dag_id, run_id, task_id, map_index, key)
 * in COLLATE "C" so the stable order is code-point order; `kind` says whether `data` (inline text) or `ref` (jsonb)
 * is set. `xcom_pending_purge` is the outbox of references still to delete, written in the same statement as the
 * row change that caused it. `xcom_schema` records the applied schema versions; `xcom_put()` is the replace;
 * `xcom_database` holds the database's identity.
 *
 * Rows are read defensively: `ref` as JSON text and every row through core's `recordFromRow`, so a row xcom cannot
 * decode becomes a `malformed` value instead of an error, and list cursors carry any bigint map index exactly.
 *
 * Every operation is ONE statement sent as a named prepared statement, so it is atomic on its own (no client-side
 * transaction, one round trip) and its values are always parameters, never SQL text.
 */
import { createHash, randomUUID } from 'node:crypto'
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
import {
  keyValues,
  maskUrl,
  pageLimit,
  type RecordRow,
  recordFromRow,
  recordValues,
} from '@xcom/core/adapter'
import { Pool, type PoolClient, type QueryResultRow } from 'pg'
import { cursorOf, readCursor } from './cursor.ts'
import { isRetryable, postgresError } from './errors.ts'
import { readIdentity } from './identity.ts'
import {
  identityInsert,
  KEY_COLUMNS,
  MIGRATIONS,
  PACKAGE_VERSION,
  READ_COLUMNS,
  RECORD_COLUMNS,
  SCHEMA_VERSION,
  schemaTableDdl,
  TABLE_NAMES,
} from './schema.ts'
import { keysetAfter, whereOf, wholeNumber } from './sql.ts'

/** Options of {@link PostgresMetadataStore}. */
export interface PostgresMetadataStoreOptions {
  /**
   * `postgres://user:password@host:port/database`. Ignored when `pool` is given.
   * @default process.env.XCOM_METADATA_URL when it is a postgres:// URL, else pg's defaults (PGHOST, PGUSER, ...)
   */
  connectionString?: string
  /** A pg pool the caller owns: the store never ends it, and `statementTimeoutMs` / `connectTimeoutMs` / `max` do not apply. */
  pool?: Pool
  /**
   * The schema holding xcom's tables; created when missing. Letters, digits and `_` only.
   * @default "public"
   */
  schema?: string
  /**
   * Server-side `statement_timeout` of the pool's connections, in milliseconds (0: none).
   * @default 30000
   */
  statementTimeoutMs?: number
  /**
   * How long to wait for a connection to the server, in milliseconds (0: forever).
   * @default 10000
   */
  connectTimeoutMs?: number
  /**
   * Largest number of connections in the pool.
   * @default 10
   */
  max?: number
}

/** A row of `xcom_record` (or `xcom_pending_purge`, with `queued_at`) as pg returns it: bigint as text, `ref` as text. */
type Row = QueryResultRow & RecordRow & { queued_at?: unknown }

/** Default number of records per `list` page when no page is given. */
const DEFAULT_PAGE_LIMIT = 1000

/** Schema names are identifiers we quote ourselves, so only plain ones are accepted. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** Attempts of a statement that failed with a serialization failure or a deadlock (nothing was committed). */
const ATTEMPTS = 3

/**
 * A {@link MetadataStore} in a PostgreSQL server, through a `pg` pool. The schema is created or migrated on first
 * use (or by {@link PostgresMetadataStore.ready}), under an advisory lock so concurrent processes migrate once.
 *
 * @throws XComError `E_CONFIG` for an invalid schema name, or (from the first operation) a database written by a
 *   newer @xcom/postgres; `E_PERMISSION_DENIED` for rejected credentials or privileges; `E_BACKEND` when the server
 *   cannot be reached or a statement times out.
 */
export class PostgresMetadataStore implements MetadataStore {
  /** The schema holding the tables. */
  readonly schema: string
  /** The database, for messages: the URL with its password masked. */
  readonly url: string
  readonly #pool: Pool
  readonly #owned: boolean
  readonly #s: string
  readonly #names = new Map<string, string>()
  #ready: Promise<void> | undefined
  #identity: Promise<DatabaseIdentity> | undefined
  #closed = false

  constructor(options: PostgresMetadataStoreOptions = {}) {
    const schema = options.schema ?? 'public'
    if (!SCHEMA_NAME.test(schema)) {
      throw new XComError(
        'E_CONFIG',
        `Invalid PostgreSQL schema name ${JSON.stringify(schema)}: use letters, digits and _ (at most 63, not starting with a digit), e.g. "xcom".`,
      )
    }
    this.schema = schema
    this.#s = `"${schema}"`
    if (options.pool) {
      if (options.connectionString !== undefined) {
        throw new XComError(
          'E_CONFIG',
          'new PostgresMetadataStore() takes either { pool } or { connectionString }, not both.',
        )
      }
      this.#pool = options.pool
      this.#owned = false
      this.url = '(the given pg pool)'
    } else {
      const fromEnv = process.env.XCOM_METADATA_URL
      const connectionString =
        options.connectionString ?? (fromEnv && /^postgres(ql)?:\/\//i.test(fromEnv) ? fromEnv : undefined)
      this.url = connectionString
        ? maskUrl(connectionString)
        : 'postgres:// (from PGHOST, PGUSER, PGDATABASE...)'
      this.#pool = new Pool({
        connectionString,
        max: wholeNumber('max', options.max ?? 10, 1),
        statement_timeout: wholeNumber('statementTimeoutMs', options.statementTimeoutMs ?? 30_000, 0),
        connectionTimeoutMillis: wholeNumber('connectTimeoutMs', options.connectTimeoutMs ?? 10_000, 0),
      })
      // An idle connection the server drops emits 'error' on the pool; pg discards that client and the next query
      // opens a new one. Without a listener Node would crash the process.
      this.#pool.on('error', () => {})
      this.#owned = true
    }
  }

  /**
   * Connects and creates or migrates the schema. Every operation calls it; call it yourself to fail fast.
   * @throws XComError `E_CONFIG` when the schema was written by a newer @xcom/postgres; connection errors as above.
   */
  ready(): Promise<void> {
    this.#checkOpen('connecting')
    this.#ready ??= this.#migrate().catch((error) => {
      this.#ready = undefined
      throw postgresError(error, 'creating or migrating the schema', this)
    })
    return this.#ready
  }

  /**
   * Replaces the row of the record's identity and returns the replaced record, queuing its reference for purge.
   *
   * This is one call of the server-side function `xcom_put()` (created by the migration): it locks the existing row
   * with SELECT ... FOR UPDATE, queues its purge, and updates it; or, when there is none, inserts with
   * ON CONFLICT DO NOTHING, and if a concurrent put inserted the same identity first, loops to lock and replace that
   * row. A plain `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` cannot return the old row, and a CTE reads its
   * snapshot before a concurrent insert commits, so 20 concurrent puts would not each get a distinct replaced record.
   * The function needs no advisory lock (no false sharing between identities) and is one round trip.
   */
  async put(record: XComRecord): Promise<XComRecord | undefined> {
    const rows = await this.#query(
      'writing a row',
      `SELECT ${READ_COLUMNS} FROM ${this.#s}.xcom_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      recordValues(record, (date) => date.toISOString()),
    )
    return rows[0] && recordFromRow(rows[0])
  }

  /**
   * One statement: the row is locked only while its id is `expectedId` (a concurrent put that replaced it first makes
   * the lock's re-check fail, so nothing is written), its reference queued for purge, and the row updated.
   */
  async replaceIf(record: XComRecord, expectedId: string): Promise<XComRecord | undefined> {
    const sql = `WITH old AS (SELECT * FROM ${this.#s}.xcom_record
        WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND map_index = $4 AND key = $5 AND id = $13 FOR UPDATE),
      queued AS (INSERT INTO ${this.#s}.xcom_pending_purge (${RECORD_COLUMNS}, queued_at)
        SELECT ${RECORD_COLUMNS}, now() FROM old WHERE kind = 'reference' ON CONFLICT (id) DO NOTHING),
      updated AS (UPDATE ${this.#s}.xcom_record AS r SET id = $6, kind = $7, data = $8, ref = $9, size = $10,
        created_at = $11, expires_at = $12 FROM old WHERE r.id = old.id)
      SELECT ${READ_COLUMNS} FROM old`
    const rows = await this.#query('rewriting a row', sql, [
      ...recordValues(record, (date) => date.toISOString()),
      expectedId,
    ])
    return rows[0] && recordFromRow(rows[0])
  }

  async get(id: XComKey): Promise<XComRecord | undefined> {
    const sql = `SELECT ${READ_COLUMNS} FROM ${this.#s}.xcom_record
      WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND map_index = $4 AND key = $5`
    const rows = await this.#query('reading a row', sql, keyValues(id))
    return rows[0] && recordFromRow(rows[0])
  }

  async getMany(query: XComQuery): Promise<XComRecord[]> {
    const params: unknown[] = []
    const sql = `SELECT ${READ_COLUMNS} FROM ${this.#s}.xcom_record WHERE ${whereOf(query, params)} ORDER BY ${KEY_COLUMNS}`
    return (await this.#query('reading rows', sql, params)).map(recordFromRow)
  }

  async delete(query: XComQuery): Promise<XComRecord[]> {
    const params: unknown[] = []
    const sql = `WITH gone AS (DELETE FROM ${this.#s}.xcom_record WHERE ${whereOf(query, params)} RETURNING ${RECORD_COLUMNS}),
      queued AS (INSERT INTO ${this.#s}.xcom_pending_purge (${RECORD_COLUMNS}, queued_at)
        SELECT ${RECORD_COLUMNS}, now() FROM gone WHERE kind = 'reference' ON CONFLICT (id) DO NOTHING)
      SELECT ${READ_COLUMNS} FROM gone ORDER BY ${KEY_COLUMNS}`
    return (await this.#query('deleting rows', sql, params)).map(recordFromRow)
  }

  /** @throws XComError `E_INVALID_KEY` for a cursor not made by this method or a limit that is not a positive integer. */
  async list(
    query: XComQuery,
    page: { limit: number; after?: string | undefined } = { limit: DEFAULT_PAGE_LIMIT },
  ): Promise<RecordPage> {
    const limit = pageLimit(page.limit)
    const params: unknown[] = []
    let sql = `SELECT ${READ_COLUMNS} FROM ${this.#s}.xcom_record WHERE ${whereOf(query, params)}`
    if (page.after !== undefined) {
      const keyset = keysetAfter(query, readCursor(page.after))
      if (keyset === 'none') return { records: [], next: undefined }
      if (keyset !== 'all') {
        const placeholders = keyset.values.map((_, index) => `$${params.length + index + 1}`)
        sql += ` AND (${keyset.columns.join(', ')}) > (${placeholders.join(', ')})`
        params.push(...keyset.values)
      }
    }
    params.push(limit + 1)
    sql += ` ORDER BY ${KEY_COLUMNS} LIMIT $${params.length}`
    const rows = await this.#query('listing rows', sql, params)
    // From the row, not the record: a malformed record's map index is -1, not the one stored.
    const last = rows.length > limit ? rows[limit - 1] : undefined
    return { records: rows.slice(0, limit).map(recordFromRow), next: last && cursorOf(last) }
  }

  async pendingPurges(limit: number): Promise<PendingPurge[]> {
    const sql = `SELECT ${READ_COLUMNS}, queued_at FROM ${this.#s}.xcom_pending_purge ORDER BY queued_at, id LIMIT $1`
    const rows = await this.#query('reading pending purges', sql, [Math.max(0, Math.floor(limit))])
    return rows.map((row) => {
      const record = recordFromRow(row)
      // pg reads 'infinity' as Infinity and years past 275760 as an Invalid Date.
      const queuedAt = row.queued_at instanceof Date ? row.queued_at : new Date(Number.NaN)
      return { id: record.id, record, queuedAt: Number.isFinite(queuedAt.getTime()) ? queuedAt : new Date(0) }
    })
  }

  async resolvePurges(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    await this.#query(
      'resolving purges',
      `DELETE FROM ${this.#s}.xcom_pending_purge WHERE id = ANY($1::text[])`,
      [ids],
    )
  }

  /**
   * The database's identity: a random id stored in `xcom_database` when the schema was created (or migrated to
   * version 2), and `postgres://<user>@<host>:<port>/<database>` plus `?schema=` unless it is `public`.
   * @throws XComError `E_CORRUPT` when the stored id was damaged; connection errors as for every operation.
   */
  identity(): Promise<DatabaseIdentity> {
    this.#identity ??= (async () => {
      await this.ready()
      this.#checkOpen('reading the database identity')
      return withClient(this.#pool, (client) => readIdentity(client, this.#s, this.schema, this.url))
    })().catch((error) => {
      this.#identity = undefined
      throw postgresError(error, 'reading the database identity', this)
    })
    return this.#identity
  }

  /** Ends the pool if this store created it; later calls fail with `E_BACKEND`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#ready?.catch(() => {})
    if (this.#owned) await this.#pool.end()
  }

  async #query(action: string, text: string, values: readonly unknown[]): Promise<Row[]> {
    await this.ready()
    this.#checkOpen(action)
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.#pool.query<Row>({ name: this.#nameOf(text), text, values: values as unknown[] }))
          .rows
      } catch (error) {
        if (attempt < ATTEMPTS && isRetryable(error)) continue
        throw postgresError(error, action, this)
      }
    }
  }

  /** A stable name per statement text, so each connection parses and plans it once. */
  #nameOf(text: string): string {
    let name = this.#names.get(text)
    if (!name) {
      name = `xcom_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`
      this.#names.set(text, name)
    }
    return name
  }

  /**
   * Reads the schema version; when tables are missing or older, migrates in one transaction under an advisory lock
   * (concurrent processes wait, then find the work done). Refuses a newer version before touching anything.
   */
  async #migrate(): Promise<void> {
    const current = await this.#schemaVersion(this.#pool)
    if (current === SCHEMA_VERSION) return
    await withClient(this.#pool, async (client) => {
      try {
        await client.query('BEGIN')
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `xcom_schema:${this.schema}`,
        ])
        const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schema])
        if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${this.#s}`)
        await client.query(schemaTableDdl(this.#s))
        const version = await this.#schemaVersion(client)
        for (let next = version; next < SCHEMA_VERSION; next++) {
          await client.query((MIGRATIONS[next] as (s: string) => string)(this.#s))
          await client.query(
            `INSERT INTO ${this.#s}.xcom_schema (version, package_version) VALUES ($1, $2)`,
            [next + 1, PACKAGE_VERSION],
          )
        }
        // In the migrating transaction, under the lock: processes opening a new schema at once agree on one id.
        if (version < SCHEMA_VERSION) await client.query(identityInsert(this.#s), [randomUUID()])
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        if ((error as { code?: unknown })?.code === '42P07') {
          throw new XComError(
            'E_CONFIG',
            `The PostgreSQL schema ${this.schema} of ${this.url} already has a table named like xcom's (${TABLE_NAMES}) that @xcom/postgres did not create: ` +
              'choose another schema (?schema=xcom in XCOM_METADATA_URL, or the schema option).',
            { cause: error, uri: this.url },
          )
        }
        throw error
      }
    })
  }

  /** The schema version (0 when there are no tables yet). @throws XComError `E_CONFIG` when it is newer than this package's. */
  async #schemaVersion(client: Pool | PoolClient): Promise<number> {
    const table = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [
      `${this.#s}.xcom_schema`,
    ])
    if (!table.rows[0]?.found) return 0
    const result = await client.query<{ version: number; package_version: string }>(
      `SELECT version, package_version FROM ${this.#s}.xcom_schema ORDER BY version DESC LIMIT 1`,
    )
    const found = result.rows[0]
    const version = found?.version ?? 0
    if (version > SCHEMA_VERSION) {
      throw new XComError(
        'E_CONFIG',
        `The PostgreSQL schema ${this.schema} of ${this.url} has xcom schema version ${version}, written by @xcom/postgres ${found?.package_version}; ` +
          `this @xcom/postgres ${PACKAGE_VERSION} reads up to version ${SCHEMA_VERSION}: upgrade @xcom/postgres to ${found?.package_version} or later.`,
        { uri: this.url },
      )
    }
    return version
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new XComError(
        'E_BACKEND',
        `Cannot do "${action}": the PostgresMetadataStore for ${this.url} is closed.`,
        { uri: this.url },
      )
    }
  }
}

/**
 * Runs `work` on a client of its own, released after. A connection lost while the client is out (the server
 * restarted, the backend terminated) emits 'error' on it, which would crash the process without a listener: the
 * query in flight fails with that error anyway. A client whose work failed is discarded, not pooled: its
 * connection may be on its way out.
 */
async function withClient<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  const reportedByTheQuery = (): void => {}
  client.on('error', reportedByTheQuery)
  let failed = true
  try {
    const result = await work(client)
    failed = false
    return result
  } finally {
    client.removeListener('error', reportedByTheQuery)
    client.release(failed)
  }
}
