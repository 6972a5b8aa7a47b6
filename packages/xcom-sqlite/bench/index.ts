// 10,000 inline push+pull round trips through XCom + SqliteMetadataStore, against the same INSERT ... ON CONFLICT and
// SELECT (the whole row, as the store reads it) on the same table issued directly with node:sqlite (prepared
// statements, JSON.stringify / JSON.parse), in the same process. Both databases are files in WAL mode with
// synchronous=FULL. Prints baseline time / xcom time (target >= 0.8).
// Runs on the workspace sources, nothing to build first: node --conditions=@xcom/source --expose-gc bench/index.ts

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { XCom } from '@xcom/core'
import { keyValues } from '@xcom/core/adapter'
import { compareInlineRoundTrips } from '@xcom/testing'
import { SqliteMetadataStore } from '../src/index.ts'
import { KEY_COLUMNS, RECORD_COLUMNS } from '../src/schema.ts'

const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-bench-'))
const xcom = new XCom({ metadata: new SqliteMetadataStore({ path: join(dir, 'xcom.db') }) })

// The baseline uses a table made by the store (same columns, keys and indexes), then only the raw driver.
const baselinePath = join(dir, 'baseline.db')
await new SqliteMetadataStore({ path: baselinePath }).close()
const db = new DatabaseSync(baselinePath)
db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL')
const upsert =
  db.prepare(`INSERT INTO xcom_record (${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'inline', ?, NULL, ?, ?, NULL)
  ON CONFLICT (${KEY_COLUMNS}) DO UPDATE SET id = excluded.id, kind = excluded.kind, data = excluded.data,
  ref = excluded.ref, size = excluded.size, created_at = excluded.created_at, expires_at = excluded.expires_at`)
// The same SELECT the store issues for a pull: the whole row.
const select = db.prepare(
  `SELECT ${RECORD_COLUMNS} FROM xcom_record WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?`,
)

try {
  await compareInlineRoundTrips({
    title: '@xcom/sqlite',
    xcom,
    label: 'XCom + SqliteMetadataStore',
    baseline: {
      label: 'node:sqlite directly (INSERT ... ON CONFLICT + SELECT)',
      roundTrip: async (key, data) => {
        upsert.run(...keyValues(key), crypto.randomUUID(), data, Buffer.byteLength(data), Date.now())
        return (select.get(...keyValues(key)) as { data: string }).data
      },
    },
  })
} finally {
  await xcom.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
}
