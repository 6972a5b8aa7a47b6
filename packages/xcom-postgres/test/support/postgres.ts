import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { describe, it } from 'vitest'

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

/** Runs one statement on the test server with a short-lived client. */
export async function admin<T extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL })
  await client.connect()
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
