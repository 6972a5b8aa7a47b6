/* The harness through which the shared SQL cases reach a store's raw database, and what those cases share. */
import type { MetadataStore, MetadataStoreFactory, XComKey, XComRecord } from '@xcom/core'
import { afterEach } from 'vitest'

/** A SQL metadata store's database as the cases reach it, beside the store. */
export interface SqlStoreHarness<S extends MetadataStore> {
  /** A new, empty store on a database (a file, a schema) of its own. The cases close every store they get. */
  open(): S | Promise<S>
  /** Another store on the database of `store` (still open), as another process would open it. */
  reopen(store: S): S | Promise<S>
  /**
   * A store on a new database that a version 1 store wrote: `records` as rows, and the purges of `replaced` queued
   * (each was replaced by the record of the same identity in `records`). Opening it migrates the database.
   */
  openVersion1(records: readonly XComRecord[], replaced: readonly XComRecord[]): S | Promise<S>
  /**
   * Runs one SQL statement on the database of `store`, outside the store, with CHECK constraints off (the damage
   * another tool can do); tables are named without a schema. Returns its rows.
   */
  sql(store: S, statement: string): Promise<Record<string, unknown>[]>
  /** The schema version the package writes. */
  schemaVersion: number
  /** The package's `metadataStoreFactory`, and what its refusals of a malformed URL must name. */
  factory: {
    create: MetadataStoreFactory
    /** Malformed URLs; any password in them is `s3cret`. */
    malformedUrls: readonly string[]
    /** The example URL the refusal gives. */
    example: string
  }
  /** Runs after each test, once the cases closed their stores: removes every database made since its last call. */
  cleanup?(): void | Promise<void>
}

/** The XCom the SQL cases push and damage. */
export const identity: XComKey = {
  dagId: 'dag',
  runId: 'run',
  taskId: 'task',
  mapIndex: -1,
  key: 'return_value',
}

/** How many rows a `SELECT count(*) AS n` statement counted. */
export async function countRows(sql: () => Promise<Record<string, unknown>[]>): Promise<number> {
  return Number((await sql())[0]?.n)
}

/** The stores a describe block opened, closed after each test before the harness cleans up. */
export function tracked<S extends MetadataStore>(harness: SqlStoreHarness<S>) {
  const stores: S[] = []
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close()
    await harness.cleanup?.()
  })
  return async <T extends S>(store: T | Promise<T>): Promise<T> => {
    const opened = await store
    stores.push(opened)
    return opened
  }
}
