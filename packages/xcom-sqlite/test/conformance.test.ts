import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeMetadataStore } from '@xcom/testing'
import { afterAll } from 'vitest'
import { SqliteMetadataStore } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-conformance-'))
let files = 0
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeMetadataStore(
  'SqliteMetadataStore on a file (WAL)',
  () => new SqliteMetadataStore({ path: join(dir, `${++files}.db`) }),
  {
    cleanup: () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `${files}.db${suffix}`), { force: true })
    },
  },
)

describeMetadataStore('SqliteMetadataStore in memory', () => new SqliteMetadataStore({ path: ':memory:' }))
