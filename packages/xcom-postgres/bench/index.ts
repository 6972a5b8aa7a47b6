// 10,000 inline push+pull round trips through XCom + PostgresMetadataStore, against the same INSERT ... ON CONFLICT
// and SELECT (the whole row, as the store reads it) on the same table issued directly with pg (named prepared
// statements, JSON.stringify / JSON.parse), in the same process and against the same server. Prints baseline time /
// xcom time (target >= 0.8).
// Runs on the workspace sources, nothing to build first: node --conditions=@xcom/source --expose-gc bench/index.ts
// (server: XCOM_TEST_POSTGRES_URL or 127.0.0.1:5432)

import { XCom } from '@xcom/core'
import { keyValues } from '@xcom/core/adapter'
import { compareInlineRoundTrips } from '@xcom/testing'
import pg from 'pg'
import { PostgresMetadataStore } from '../src/index.ts'
import { KEY_COLUMNS, RECORD_COLUMNS } from '../src/schema.ts'

const URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const pool = new pg.Pool({ connectionString: URL, max: 1 })
try {
  await pool.query('SELECT 1')
} catch (error) {
  console.error(`@xcom/postgres bench: PostgreSQL at ${URL} is unreachable (${(error as Error).message}).`)
  await pool.end()
  process.exit(process.env.CI === 'true' ? 1 : 0)
}

const suffix = `${process.pid}_${Date.now()}`
const xcomSchema = `xcom_bench_${suffix}_xcom`
const baselineSchema = `xcom_bench_${suffix}_base`
const xcom = new XCom({ metadata: new PostgresMetadataStore({ connectionString: URL, schema: xcomSchema }) })
// The baseline uses a table made by the store (same columns, keys and indexes), then only the raw driver.
const maker = new PostgresMetadataStore({ connectionString: URL, schema: baselineSchema })
await maker.ready()
await maker.close()

const upsert = `INSERT INTO "${baselineSchema}".xcom_record (${RECORD_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, 'inline', $7, NULL, $8, $9, NULL)
  ON CONFLICT (${KEY_COLUMNS}) DO UPDATE SET id = excluded.id, kind = excluded.kind, data = excluded.data,
  ref = excluded.ref, size = excluded.size, created_at = excluded.created_at, expires_at = excluded.expires_at`
// The same SELECT the store issues for a pull: the whole row.
const select = `SELECT ${RECORD_COLUMNS} FROM "${baselineSchema}".xcom_record
  WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND map_index = $4 AND key = $5`

try {
  await compareInlineRoundTrips({
    title: '@xcom/postgres',
    xcom,
    label: 'XCom + PostgresMetadataStore',
    baseline: {
      label: 'pg directly (INSERT ... ON CONFLICT + SELECT)',
      roundTrip: async (key, data) => {
        const time = new Date().toISOString()
        const values = [...keyValues(key), crypto.randomUUID(), data, Buffer.byteLength(data), time]
        await pool.query({ name: 'bench_upsert', text: upsert, values })
        const read = await pool.query({ name: 'bench_select', text: select, values: keyValues(key) })
        return read.rows[0].data
      },
    },
  })
} finally {
  await xcom.close()
  await pool.query(
    `DROP SCHEMA IF EXISTS "${xcomSchema}" CASCADE; DROP SCHEMA IF EXISTS "${baselineSchema}" CASCADE`,
  )
  await pool.end()
}
