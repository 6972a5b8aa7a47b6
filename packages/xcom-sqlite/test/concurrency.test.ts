import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildWithTsc, expectConcurrentProcessesConsistent } from '@xcom/testing'
import { afterAll, beforeAll, describe, it } from 'vitest'

const packages = fileURLToPath(new URL('../..', import.meta.url))
const built = (name: string) => pathToFileURL(join(packages, name, 'dist', 'index.js')).href
const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-concurrency-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('8 processes x 500 pushes, pulls and clears on 20 overlapping identities', () => {
  // The processes import the built packages (no vitest aliases there).
  beforeAll(() =>
    buildWithTsc(
      ['xcom-core', 'xcom-objectstore', 'xcom-sqlite'].map((name) =>
        join(packages, name, 'tsconfig.build.json'),
      ),
      import.meta.url,
    ),
  )

  it('leaves one verified object per surviving row, consistent with the last writes, and no garbage after gc', async () => {
    await expectConcurrentProcessesConsistent({
      storeModule: built('xcom-sqlite'),
      objectStoreModule: built('xcom-objectstore'),
      metadataUrl: `sqlite://${join(dir, 'db', 'xcom.db')}`,
      dir,
    })
  }, 600_000)
})
