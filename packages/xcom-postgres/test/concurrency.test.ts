import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expectConcurrentProcessesConsistent } from '@xcom/testing'
import { afterAll, it } from 'vitest'
import { describePostgres, dropSchema, newSchemaName, POSTGRES_URL } from './support/postgres.ts'

const dir = mkdtempSync(join(tmpdir(), 'xcom-postgres-concurrency-'))
const schema = newSchemaName()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describePostgres('8 processes x 500 pushes, pulls and clears on 20 overlapping identities', () => {
  afterAll(() => dropSchema(schema))

  it('leaves one verified object per surviving row, consistent with the last writes, and no garbage after gc', async () => {
    const url = new URL(POSTGRES_URL)
    url.searchParams.set('schema', schema)
    await expectConcurrentProcessesConsistent({ metadataUrl: url.toString(), dir })
  }, 600_000)
})
