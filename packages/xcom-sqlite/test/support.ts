import { DatabaseSync } from 'node:sqlite'
import { recordValues } from '@xcom/core/adapter'
import type { SqlStoreHarness } from '@xcom/testing'
import { metadataStoreFactory, SCHEMA_VERSION, SqliteMetadataStore } from '../src/index.ts'
import { MIGRATIONS, RECORD_COLUMNS, SCHEMA_TABLE_DDL } from '../src/schema.ts'

const databases = new Map<SqliteMetadataStore, DatabaseSync>()
const made: DatabaseSync[] = []

/** A new in-memory database that accepts what its CHECK constraints would refuse (the damage another tool can do). */
function newDatabase(): DatabaseSync {
  const db = new DatabaseSync(':memory:')
  db.exec('PRAGMA ignore_check_constraints = ON')
  made.push(db)
  return db
}

function storeOn(db: DatabaseSync): SqliteMetadataStore {
  const store = new SqliteMetadataStore({ database: db })
  databases.set(store, db)
  return store
}

/** The database under a store the harness opened. */
export function databaseOf(store: SqliteMetadataStore): DatabaseSync {
  const db = databases.get(store)
  if (!db) throw new Error('not a store of the test harness')
  return db
}

/** SQLite for `@xcom/testing`'s SQL store cases: stores on in-memory databases the test reaches directly. */
export const sqliteHarness: SqlStoreHarness<SqliteMetadataStore> = {
  open: () => storeOn(newDatabase()),
  reopen: (store) => storeOn(databaseOf(store)),
  openVersion1(records, replaced) {
    const db = newDatabase()
    db.exec(SCHEMA_TABLE_DDL)
    db.exec(MIGRATIONS[0] as string)
    db.prepare('INSERT INTO xcom_schema (version, package_version, applied_at) VALUES (1, ?, 1)').run('0.1.0')
    const rows = [
      ...records.map((record) => ({ table: 'xcom_record', record, extra: [] })),
      ...replaced.map((record) => ({ table: 'xcom_pending_purge', record, extra: [1_700_000_000_000] })),
    ]
    for (const { table, record, extra } of rows) {
      const values = [...recordValues(record, (date) => date.getTime()), ...extra]
      const columns = `${RECORD_COLUMNS}${extra.length > 0 ? ', queued_at' : ''}`
      db.prepare(`INSERT INTO ${table} (${columns}) VALUES (${values.map(() => '?').join(', ')})`).run(
        ...values,
      )
    }
    return storeOn(db)
  },
  sql: async (store, statement) => databaseOf(store).prepare(statement).all(),
  schemaVersion: SCHEMA_VERSION,
  factory: {
    create: metadataStoreFactory,
    malformedUrls: [
      'sqlite://',
      'postgres://user:s3cret@host/db',
      'sqlite:/x.db',
      'sqlite://x.db?mode=ro',
      'sqlite://%zz',
    ],
    example: 'sqlite://.xcom/xcom.db',
  },
  cleanup() {
    databases.clear()
    for (const db of made.splice(0)) db.close()
  },
}
