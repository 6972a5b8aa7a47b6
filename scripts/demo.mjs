#!/usr/bin/env node
// `pnpm demo`: a three-task pipeline passing values through xcom, using @xcom/core alone (memory database, values inline).
import { MemoryMetadataStore, XCom, XComError } from '../packages/xcom-core/dist/index.js'

const xcom = new XCom({ metadata: new MemoryMetadataStore() })
const run = { dagId: 'demo_etl', runId: `manual__${new Date().toISOString()}` }

// Task "extract" returns rows: Dates, BigInts and Maps survive the trip, unlike with plain JSON.
const rows = Array.from({ length: 5 }, (_, i) => ({
  id: BigInt(i) * 10n ** 15n,
  at: new Date(Date.UTC(2026, 0, i + 1)),
  tags: new Map([['source', 'demo']]),
}))
await xcom.push({ ...run, taskId: 'extract' }, rows)
console.log(`extract   pushed ${rows.length} rows`)

// Task "transform" is mapped over three shards; each pushes its own value under its map index.
const extracted = await xcom.pull({ ...run, taskId: 'extract' })
for (let mapIndex = 0; mapIndex < 3; mapIndex++) {
  const shard = extracted.filter((_, i) => i % 3 === mapIndex)
  await xcom.push({ ...run, taskId: 'transform', mapIndex }, { shard: mapIndex, ids: shard.map((r) => r.id) })
}
console.log('transform pushed 3 mapped values')

// Task "load" reads every mapped value with one query.
const shards = await xcom.pullMany({ ...run, taskId: ['transform'] })
for (const { mapIndex, value } of shards)
  console.log(`load      shard ${mapIndex}: ids ${value.ids.join(', ')}`)

// Bad input gets a clear error with a code, before any I/O.
try {
  await xcom.push({ ...run, taskId: '' }, 1)
} catch (error) {
  if (!(error instanceof XComError)) throw error
  console.log(`error     ${error.code}: ${error.message}`)
}

const cleared = await xcom.clear({ dagId: run.dagId, runId: run.runId })
console.log(`clear     deleted ${cleared.deleted} XComs`)
await xcom.close()
