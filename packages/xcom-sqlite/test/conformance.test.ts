import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeMetadataStore } from '@xcom/testing'
import { afterAll } from 'vitest'
import { SqliteMetadataStore } from '../src/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-conformance-'))
let files = 0
const made: string[] = []
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeMetadataStore(
  'SqliteMetadataStore on a file (WAL)',
  () => {
    const path = join(dir, `${++files}.db`)
    made.push(path)
    return new SqliteMetadataStore({ path })
  },
  {
    reopen: (store) => new SqliteMetadataStore({ path: (store as SqliteMetadataStore).location }),
    cleanup: () => {
      for (const path of made.splice(0))
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true })
    },
  },
)

describeMetadataStore('SqliteMetadataStore in memory', () => new SqliteMetadataStore({ path: ':memory:' }))
