import { randomBytes } from 'node:crypto'
import { recordValues } from '@xcom/core/adapter'
import type { SqlStoreHarness } from '@xcom/testing'
import pg from 'pg'
import { describe, it } from 'vitest'
import { metadataStoreFactory, PostgresMetadataStore, SCHEMA_VERSION } from '../../src/index.ts'
import { MIGRATIONS, schemaTableDdl } from '../../src/schema.ts'

/** The server the tests use: XCOM_TEST_POSTGRES_URL, or the local one. */
export const POSTGRES_URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const CI = process.env.CI === 'true'

async function probe(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return (error as Error).message || String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Why PostgreSQL cannot be used, or undefined when it can. */
export const unreachable = await probe()
if (unreachable && !CI) {
  console.warn(
    `\n!!!!! PostgreSQL at ${POSTGRES_URL} is unreachable (${unreachable}): the @xcom/postgres tests are SKIPPED. ` +
      'Start a server or set XCOM_TEST_POSTGRES_URL; with CI=true this fails the run. !!!!!\n',
  )
}

/**
 * A describe block that needs PostgreSQL: skipped (loudly) when the server is unreachable, except under CI=true,
 * where it becomes one FAILING test naming the server, so the run fails and the failure is counted.
 */
export function describePostgres(name: string, body: () => void): void {
  if (unreachable !== undefined && CI) {
    describe(name, () => {
      it(`needs PostgreSQL at ${POSTGRES_URL}`, () => {
        throw new Error(`PostgreSQL at ${POSTGRES_URL} is unreachable (CI=true): ${unreachable}`)
      })
    })
    return
  }
  describe.skipIf(unreachable !== undefined)(name, body)
}

const runId = `${process.pid}_${randomBytes(4).toString('hex')}`
let schemas = 0

/** A new schema name for one test, unique across parallel runs. */
export function newSchemaName(): string {
  return `xcom_test_${runId}_${++schemas}`
}

/** A connected client of the test server; with a schema, its tables are named without it (search_path). */
export async function connect(schema?: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: POSTGRES_URL,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  })
  await client.connect()
  return client
}

/** Runs one statement on the test server (in `schema`, if given) with a short-lived client. */
export async function admin<T extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
  schema?: string,
): Promise<T[]> {
  const client = await connect(schema)
  try {
    return (await client.query<T>(text, values)).rows
  } finally {
    await client.end()
  }
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  if (!/^xcom_test_\w+$/.test(schema)) throw new Error(`refusing to drop ${schema}`)
  await admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
}

/** Drops the CHECK constraints of a test schema's tables, so rows can be damaged the way a foreign tool could. */
export async function dropChecks(schema: string): Promise<void> {
  await admin(`DO $$ DECLARE c record; BEGIN
    FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
      WHERE contype = 'c' AND connamespace = '"${schema}"'::regnamespace LOOP
      EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname);
    END LOOP; END $$`)
}

const made: string[] = []
const unchecked = new Set<string>()

function storeIn(schema: string): PostgresMetadataStore {
  return new PostgresMetadataStore({ connectionString: POSTGRES_URL, schema })
}

function newSchema(): string {
  const schema = newSchemaName()
  made.push(schema)
  return schema
}

/** Makes the schema of `store` (created first) accept what its CHECK constraints would refuse. */
export async function withoutChecks(store: PostgresMetadataStore): Promise<void> {
  await store.ready()
  if (unchecked.has(store.schema)) return
  await dropChecks(store.schema)
  unchecked.add(store.schema)
}

/** PostgreSQL for `@xcom/testing`'s SQL store cases: a schema of its own for every store. */
export const postgresHarness: SqlStoreHarness<PostgresMetadataStore> = {
  open: () => storeIn(newSchema()),
  reopen: (store) => storeIn(store.schema),
  async openVersion1(records, replaced) {
    const schema = newSchema()
    const s = `"${schema}"`
    await admin(`CREATE SCHEMA ${s}; ${schemaTableDdl(s)}; ${(MIGRATIONS[0] as (s: string) => string)(s)}`)
    await admin(`INSERT INTO ${s}.xcom_schema (version, package_version) VALUES (1, '0.1.0')`)
    // Version 1's own replace function writes the rows, and queues the replaced references.
    for (const record of [...replaced, ...records]) {
      await admin(
        `SELECT * FROM ${s}.xcom_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        recordValues(record, (date) => date.toISOString()),
      )
    }
    return storeIn(schema)
  },
  async sql(store, statement) {
    await withoutChecks(store)
    return admin(statement, [], store.schema)
  },
  schemaVersion: SCHEMA_VERSION,
  factory: {
    create: metadataStoreFactory,
    malformedUrls: [
      'sqlite://x.db',
      'postgres://u:s3cret@h:notaport/db',
      'postgres://u:s3cret@h/db?schema=',
      'mysql://u:s3cret@h/db',
    ],
    example: 'postgres://user:password@127.0.0.1:5432/airflow?schema=xcom',
  },
  async cleanup() {
    for (const schema of made.splice(0)) await dropSchema(schema)
  },
}
