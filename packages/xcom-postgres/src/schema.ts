import { createRequire } from 'node:module'

/** This package's own version, recorded with each migration so a refusal can say which version is needed. */
export const PACKAGE_VERSION: string = createRequire(import.meta.url)('../package.json').version

/** The columns of one record, in the order every statement selects them. */
export const RECORD_COLUMNS =
  'dag_id, run_id, task_id, map_index, key, id, kind, data, ref, size, created_at, expires_at'

/**
 * The columns of one record as every read selects them: `ref` as JSON text, so a damaged jsonb (a string, an array,
 * a document too deep for the driver's parser) reaches core's `recordFromRow`, which never throws, instead of pg.
 */
export const READ_COLUMNS =
  'dag_id, run_id, task_id, map_index, key, id, kind, data, ref::text AS ref, size, created_at, expires_at'

/** The stable order: the primary key. */
export const KEY_COLUMNS = 'dag_id, run_id, task_id, map_index, key'

/** The meta table recording which schema versions were applied. `s` is the quoted schema name. */
export const schemaTableDdl = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.xcom_schema (
  version integer PRIMARY KEY,
  package_version text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`

const KEY_MATCH =
  'dag_id = p_dag_id AND run_id = p_run_id AND task_id = p_task_id AND map_index = p_map_index AND key = p_key'

/**
 * `MIGRATIONS[n](s)` takes schema `s` (already quoted) from version n to n + 1, inside one transaction. Never edit a
 * shipped migration: schemas out there were built by it. Add the next one.
 *
 * Layout (version 1):
 * - `xcom_record`: one row per XCom. The identity is the primary key, its text columns in `COLLATE "C"` so the key
 *   order is code-point order, as in SQLite; the key answers `get`, `getMany`/`pullMany` (prefix dag_id, run_id,
 *   then `= ANY` lookups on task_id and map_index), `delete` and `list` (row-value keyset) without reading other
 *   runs. `kind` says whether `data` (inline serialized text) or `ref` (the reference, jsonb) is set; the CHECK makes
 *   any other combination impossible. `expires_at` has a partial index for `purgeExpired()`.
 * - `xcom_pending_purge`: the outbox of references still to delete, written in the same transaction as the row
 *   change; it holds the full record (same columns) plus `queued_at`, indexed for "oldest first".
 * - `xcom_put(...)`: the replace, as one server-side call (see {@link PostgresMetadataStore.put}).
 * Version 2 adds `xcom_database`: one row (`singleton` = true) holding the database's random identity `id`, inserted
 * by the store in the transaction that migrates (see {@link identityInsert}).
 * Tables are created with plain CREATE TABLE: a foreign table of the same name fails the migration instead of being
 * silently reused (Airflow's own metadata database has a table named `xcom`; ours never collide with it).
 */
export const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
  CREATE TABLE ${s}.xcom_record (
    dag_id text COLLATE "C" NOT NULL,
    run_id text COLLATE "C" NOT NULL,
    task_id text COLLATE "C" NOT NULL,
    map_index bigint NOT NULL CHECK (map_index >= -1),
    key text COLLATE "C" NOT NULL,
    id text NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('inline', 'reference')),
    data text,
    ref jsonb,
    size bigint NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (dag_id, run_id, task_id, map_index, key),
    CHECK ((kind = 'inline' AND data IS NOT NULL AND ref IS NULL) OR (kind = 'reference' AND ref IS NOT NULL AND data IS NULL))
  );
  CREATE INDEX xcom_record_expires_at ON ${s}.xcom_record (expires_at) WHERE expires_at IS NOT NULL;
  CREATE TABLE ${s}.xcom_pending_purge (
    id text PRIMARY KEY,
    dag_id text NOT NULL,
    run_id text NOT NULL,
    task_id text NOT NULL,
    map_index bigint NOT NULL,
    key text NOT NULL,
    kind text NOT NULL,
    data text,
    ref jsonb,
    size bigint NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    queued_at timestamptz NOT NULL
  );
  CREATE INDEX xcom_pending_purge_queued_at ON ${s}.xcom_pending_purge (queued_at, id);
  CREATE FUNCTION ${s}.xcom_put(
    p_dag_id text, p_run_id text, p_task_id text, p_map_index bigint, p_key text, p_id text, p_kind text,
    p_data text, p_ref jsonb, p_size bigint, p_created_at timestamptz, p_expires_at timestamptz
  ) RETURNS SETOF ${s}.xcom_record LANGUAGE plpgsql AS $fn$
  DECLARE
    replaced ${s}.xcom_record;
  BEGIN
    -- In READ COMMITTED each statement below takes a new snapshot, so a row inserted by a concurrent put after our
    -- SELECT is seen (and locked) on the next turn of the loop.
    FOR attempt IN 1..20 LOOP
      SELECT * INTO replaced FROM ${s}.xcom_record WHERE ${KEY_MATCH} FOR UPDATE;
      IF FOUND THEN
        IF replaced.kind = 'reference' THEN
          INSERT INTO ${s}.xcom_pending_purge (${RECORD_COLUMNS}, queued_at)
          VALUES (${RECORD_COLUMNS.split(', ')
            .map((column) => `replaced.${column}`)
            .join(', ')}, now())
          ON CONFLICT (id) DO NOTHING;
        END IF;
        UPDATE ${s}.xcom_record SET id = p_id, kind = p_kind, data = p_data, ref = p_ref, size = p_size,
          created_at = p_created_at, expires_at = p_expires_at
          WHERE ${KEY_MATCH};
        RETURN NEXT replaced;
        RETURN;
      END IF;
      INSERT INTO ${s}.xcom_record (${RECORD_COLUMNS})
      VALUES (p_dag_id, p_run_id, p_task_id, p_map_index, p_key, p_id, p_kind, p_data, p_ref, p_size, p_created_at, p_expires_at)
      ON CONFLICT (${KEY_COLUMNS}) DO NOTHING;
      IF FOUND THEN
        RETURN;
      END IF;
      -- A concurrent put inserted this identity after our SELECT and has committed: lock and replace its row.
    END LOOP;
    RAISE EXCEPTION 'xcom_put: the row of this XCom kept changing under concurrent writers' USING ERRCODE = '40001';
  END
  $fn$;`,
  (s) => `
  CREATE TABLE ${s}.xcom_database (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id text NOT NULL CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    created_at timestamptz NOT NULL DEFAULT now()
  );`,
]

/** The version of the tables this package reads and writes. A database at a higher version is refused. */
export const SCHEMA_VERSION = MIGRATIONS.length

/** The names of xcom's tables, for the message refusing a schema that holds foreign tables of the same names. */
export const TABLE_NAMES = 'xcom_record, xcom_pending_purge or xcom_database'

/**
 * Creates the identity row unless it exists ($1: the id): run when migrating, and by `identity()` if the row was
 * deleted. ON CONFLICT waits for a concurrent insert, so every process reads the same id afterwards.
 */
export const identityInsert = (s: string) =>
  `INSERT INTO ${s}.xcom_database (id) VALUES ($1) ON CONFLICT DO NOTHING`

/** Reads the identity row. */
export const identitySelect = (s: string) => `SELECT id FROM ${s}.xcom_database`
