import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { promisify } from 'node:util'
import { expectConcurrentProcessesConsistent, sourceNodeFlags } from '@xcom/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { SCHEMA_VERSION } from '../src/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-concurrency-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('many processes on one database file', () => {
  it('8 processes x 500 pushes, pulls and clears on 20 overlapping identities leave one verified object per surviving row, consistent with the last writes, and no garbage after gc', async () => {
    await expectConcurrentProcessesConsistent({ metadataUrl: `sqlite://${join(dir, 'db', 'xcom.db')}`, dir })
  }, 600_000)

  it('6 processes opening one new database at the same moment agree on one identity', async () => {
    const path = join(dir, 'identity', 'xcom.db')
    const start = Date.now() + 1000
    // The processes run this package's sources, as the tests do.
    const script = `const { SqliteMetadataStore } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)})
      await new Promise((done) => setTimeout(done, ${start} - Date.now()))
      const store = new SqliteMetadataStore({ path: ${JSON.stringify(path)} })
      console.log((await store.identity()).id)`
    const run = promisify(execFile)
    const flags = [...sourceNodeFlags(), '--input-type=module', '-e', script]
    const outputs = await Promise.all(Array.from({ length: 6 }, () => run(process.execPath, flags)))
    expect(new Set(outputs.map(({ stdout }) => stdout.trim())).size).toBe(1)
    const raw = new DatabaseSync(path)
    try {
      expect(raw.prepare('SELECT count(*) AS n FROM xcom_database').get()).toEqual({ n: 1 })
      expect(raw.prepare('SELECT count(*) AS n FROM xcom_schema').get()).toEqual({ n: SCHEMA_VERSION })
    } finally {
      raw.close()
    }
  }, 60_000)
})
