import { createRequire } from 'node:module'

/** This package's own version, recorded with each migration so a refusal can say which version is needed. */
export const PACKAGE_VERSION: string = createRequire(import.meta.url)('../package.json').version

/** The columns of one record, in the order every statement selects them. */
export const RECORD_COLUMNS =
  'dag_id, run_id, task_id, map_index, key, id, kind, data, ref, size, created_at, expires_at'

/** The stable order: the primary key. */
export const KEY_COLUMNS = 'dag_id, run_id, task_id, map_index, key'

/** The meta table recording which schema versions were applied (created before any migration runs). */
export const SCHEMA_TABLE_DDL = `CREATE TABLE IF NOT EXISTS xcom_schema (
  version INTEGER PRIMARY KEY,
  package_version TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`

/**
 * `MIGRATIONS[n]` takes the database from schema version n to n + 1, inside one transaction. Never edit a shipped
 * migration: databases out there were built by it. Add the next one.
 *
 * Layout (version 1):
 * - `xcom_record`: one row per XCom. The identity is the primary key, in the stable order, and answers `get`,
 *   `getMany`/`pullMany` (prefix dag_id, run_id, then task_id / map_index lookups), `delete` and `list` (keyset on
 *   the key) without reading other runs. `kind` says whether `data` (inline serialized text) or `ref` (the
 *   reference as JSON text) is set; the CHECK makes any other combination impossible. Times are milliseconds since
 *   the epoch; `expires_at` has a partial index for `purgeExpired()`.
 * - `xcom_pending_purge`: the outbox of references still to delete, written in the same transaction as the row
 *   change; it holds the full record (same columns) so the purge needs nothing else, plus `queued_at`.
 * Version 2 adds `xcom_database`: one row (`singleton` = 1) holding the database's random identity `id`, inserted
 * by the store in the transaction that migrates (see {@link IDENTITY_INSERT}).
 * Tables are created with plain CREATE TABLE: a foreign table of the same name fails the migration instead of
 * being silently reused.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE xcom_record (
    dag_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    map_index INTEGER NOT NULL CHECK (map_index >= -1),
    key TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('inline', 'reference')),
    data TEXT,
    ref TEXT,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (dag_id, run_id, task_id, map_index, key),
    CHECK ((kind = 'inline' AND data IS NOT NULL AND ref IS NULL) OR (kind = 'reference' AND ref IS NOT NULL AND data IS NULL))
  );
  CREATE INDEX xcom_record_expires_at ON xcom_record (expires_at) WHERE expires_at IS NOT NULL;
  CREATE TABLE xcom_pending_purge (
    id TEXT PRIMARY KEY,
    dag_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    map_index INTEGER NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT,
    ref TEXT,
    size INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    queued_at INTEGER NOT NULL
  );
  CREATE INDEX xcom_pending_purge_queued_at ON xcom_pending_purge (queued_at, id);`,
  `CREATE TABLE xcom_database (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );`,
]

/** The version of the tables this package reads and writes. A database at a higher version is refused. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** The names of xcom's tables, for the message refusing a database that holds foreign tables of the same names. */
export const TABLE_NAMES = 'xcom_record, xcom_pending_purge or xcom_database'

/**
 * Creates the identity row unless it exists (params: id, created_at): run when migrating, and by `identity()` if the
 * row was deleted. Inside a write transaction, so concurrent processes agree on one id.
 */
export const IDENTITY_INSERT =
  'INSERT INTO xcom_database (singleton, id, created_at) VALUES (1, ?, ?) ON CONFLICT DO NOTHING'

/** Reads the identity row. */
export const IDENTITY_SELECT = 'SELECT id FROM xcom_database WHERE singleton = 1'
