// 10,000 inline push+pull round trips through XCom + SqliteMetadataStore, against the same INSERT ... ON CONFLICT and
// SELECT (the whole row, as the store reads it) on the same table issued directly with node:sqlite (prepared
// statements, JSON.stringify / JSON.parse), in the same process. Both databases are files in WAL mode with
// synchronous=FULL. Prints baseline time / xcom time (target >= 0.8).
// Run after `pnpm run build`: node --expose-gc bench/index.ts
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { XCom } from '@xcom/core'
import { SqliteMetadataStore } from '../dist/index.js'

const ROUND_TRIPS = 10_000
const ROUNDS = 3
const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-bench-'))
const payloadOf = (i: number) => ({ i, name: `row-${i}`, tags: ['a', 'b'], ok: true })
const identityOf = (i: number) => ({ dagId: 'bench', runId: 'run', taskId: 'task', mapIndex: i % 1000 })

const xcom = new XCom({ metadata: new SqliteMetadataStore({ path: join(dir, 'xcom.db') }) })

// The baseline uses a table made by the store (same columns, keys and indexes), then only the raw driver.
const baselinePath = join(dir, 'baseline.db')
await new SqliteMetadataStore({ path: baselinePath }).close()
const db = new DatabaseSync(baselinePath)
db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL')
const upsert =
  db.prepare(`INSERT INTO xcom_record (dag_id, run_id, task_id, map_index, key, id, kind, data, ref, size, created_at, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, 'inline', ?, NULL, ?, ?, NULL)
  ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET id = excluded.id, kind = excluded.kind,
  data = excluded.data, ref = excluded.ref, size = excluded.size, created_at = excluded.created_at, expires_at = excluded.expires_at`)
// The same SELECT the store issues for a pull: the whole row.
const select = db.prepare(
  'SELECT dag_id, run_id, task_id, map_index, key, id, kind, data, ref, size, created_at, expires_at FROM xcom_record WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?',
)

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
    upsert.run(
      dagId,
      runId,
      taskId,
      mapIndex,
      'return_value',
      crypto.randomUUID(),
      data,
      Buffer.byteLength(data),
      Date.now(),
    )
    const row = select.get(dagId, runId, taskId, mapIndex, 'return_value') as { data: string }
    if (JSON.parse(row.data).i !== i) throw new Error('baseline returned the wrong value')
  }
}

// The two sides alternate in chunks of CHUNK round trips, so load from other processes and disk flushes hit both
// alike; each side's time is the sum of its chunks.
const CHUNK = 100
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
const ratio = totals.baseline / totals.xcom
console.log(`@xcom/sqlite: ${ROUND_TRIPS} inline push+pull round trips, mean of ${ROUNDS} interleaved rounds`)
console.log(
  `  node:sqlite directly (INSERT ... ON CONFLICT + SELECT): ${perRound(totals.baseline).toFixed(0)} ms`,
)
console.log(
  `  XCom + SqliteMetadataStore:                             ${perRound(totals.xcom).toFixed(0)} ms`,
)
console.log(`  ratio baseline/xcom: ${ratio.toFixed(2)} (target >= 0.8)`)

await xcom.close()
db.close()
rmSync(dir, { recursive: true, force: true })
