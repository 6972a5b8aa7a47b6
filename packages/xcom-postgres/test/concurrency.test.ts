import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildWithTsc, expectConcurrentProcessesConsistent } from '@xcom/testing'
import { afterAll, beforeAll, it } from 'vitest'
import { describePostgres, dropSchema, newSchemaName, POSTGRES_URL } from './support/postgres.ts'

const packages = fileURLToPath(new URL('../..', import.meta.url))
const built = (name: string) => pathToFileURL(join(packages, name, 'dist', 'index.js')).href
const dir = mkdtempSync(join(tmpdir(), 'xcom-postgres-concurrency-'))
const schema = newSchemaName()
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describePostgres('8 processes x 500 pushes, pulls and clears on 20 overlapping identities', () => {
  // The processes import the built packages (no vitest aliases there).
  beforeAll(() =>
    buildWithTsc(
      ['xcom-core', 'xcom-objectstore', 'xcom-postgres'].map((name) =>
        join(packages, name, 'tsconfig.build.json'),
      ),
      import.meta.url,
    ),
  )
  afterAll(() => dropSchema(schema))

  it('leaves one verified object per surviving row, consistent with the last writes, and no garbage after gc', async () => {
    const url = new URL(POSTGRES_URL)
    url.searchParams.set('schema', schema)
    await expectConcurrentProcessesConsistent({
      storeModule: built('xcom-postgres'),
      objectStoreModule: built('xcom-objectstore'),
      metadataUrl: url.toString(),
      dir,
    })
  }, 600_000)
})
