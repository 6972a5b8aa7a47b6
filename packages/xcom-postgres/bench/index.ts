// 10,000 inline push+pull round trips through XCom + PostgresMetadataStore, against the same INSERT ... ON CONFLICT
// and SELECT (the whole row, as the store reads it) on the same table issued directly with pg (named prepared
// statements, JSON.stringify / JSON.parse), in the same process and against the same server. Prints baseline time /
// xcom time (target >= 0.8).
// Run after `pnpm run build`: node --expose-gc bench/index.ts  (server: XCOM_TEST_POSTGRES_URL or 127.0.0.1:5432)
import { XCom } from '@xcom/core'
import pg from 'pg'
import { PostgresMetadataStore } from '../dist/index.js'

const URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ROUND_TRIPS = 10_000
const ROUNDS = 3
const CHUNK = 100
const payloadOf = (i: number) => ({ i, name: `row-${i}`, tags: ['a', 'b'], ok: true })
const identityOf = (i: number) => ({ dagId: 'bench', runId: 'run', taskId: 'task', mapIndex: i % 1000 })

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

const upsert = `INSERT INTO "${baselineSchema}".xcom_record (dag_id, run_id, task_id, map_index, key, id, kind, data, ref, size, created_at, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, 'inline', $7, NULL, $8, $9, NULL)
  ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET id = excluded.id, kind = excluded.kind,
  data = excluded.data, ref = excluded.ref, size = excluded.size, created_at = excluded.created_at, expires_at = excluded.expires_at`
// The same SELECT the store issues for a pull: the whole row.
const select = `SELECT dag_id, run_id, task_id, map_index, key, id, kind, data, ref, size, created_at, expires_at FROM "${baselineSchema}".xcom_record WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 AND map_index = $4 AND key = $5`

async function runXCom(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await xcom.push(identityOf(i), payloadOf(i))
    const back = (await xcom.pull(identityOf(i))) as { i: number }
    if (back.i !== i) throw new Error('xcom returned the wrong value')
  }
}

async function runBaseline(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const { dagId, runId, taskId, mapIndex } = identityOf(i)
    const data = JSON.stringify(payloadOf(i))
    const values = [
      dagId,
      runId,
      taskId,
      mapIndex,
      'return_value',
      crypto.randomUUID(),
      data,
      Buffer.byteLength(data),
      new Date().toISOString(),
    ]
    await pool.query({ name: 'bench_upsert', text: upsert, values })
    const { rows } = await pool.query({
      name: 'bench_select',
      text: select,
      values: [dagId, runId, taskId, mapIndex, 'return_value'],
    })
    if (JSON.parse(rows[0].data).i !== i) throw new Error('baseline returned the wrong value')
  }
}

// The two sides alternate in chunks of CHUNK round trips, so load from other processes hits both alike; each
// side's time is the sum of its chunks.
const totals = { baseline: 0, xcom: 0 }
async function time(
  side: keyof typeof totals,
  run: (from: number, count: number) => Promise<void>,
  from: number,
) {
  const start = performance.now()
  await run(from, CHUNK)
  totals[side] += performance.now() - start
}

try {
  await runBaseline(0, 1000)
  await runXCom(0, 1000)
  for (let round = 0; round < ROUNDS; round++) {
    globalThis.gc?.()
    for (let from = 0; from < ROUND_TRIPS; from += CHUNK) {
      await time('baseline', runBaseline, from)
      await time('xcom', runXCom, from)
    }
  }
  const perRound = (ms: number) => ms / ROUNDS
  console.log(
    `@xcom/postgres: ${ROUND_TRIPS} inline push+pull round trips, mean of ${ROUNDS} interleaved rounds`,
  )
  console.log(`  pg directly (INSERT ... ON CONFLICT + SELECT): ${perRound(totals.baseline).toFixed(0)} ms`)
  console.log(`  XCom + PostgresMetadataStore:                  ${perRound(totals.xcom).toFixed(0)} ms`)
  console.log(`  ratio baseline/xcom: ${(totals.baseline / totals.xcom).toFixed(2)} (target >= 0.8)`)
} finally {
  await xcom.close()
  await pool.query(
    `DROP SCHEMA IF EXISTS "${xcomSchema}" CASCADE; DROP SCHEMA IF EXISTS "${baselineSchema}" CASCADE`,
  )
  await pool.end()
}
