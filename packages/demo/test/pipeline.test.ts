import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { XCom } from '@xcom/core'
import { SqliteMetadataStore } from '@xcom/sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAG_ID } from '../src/pipeline.ts'
import { listRun, listRuns } from '../src/report.ts'
import { filesUnder, runDemo, runIdOf, tableLine } from './run-demo.ts'

const RECORDS = '20000'

/** Every file under `dir` but the `.xcom` folder of sidecars and temporary files, and the prefix's claim. */
async function objectFiles(dir: string): Promise<string[]> {
  return (await filesUnder(dir)).filter((path) => !path.startsWith('.xcom/') && path !== 'xcom-database.json')
}

describe('the demo on the embedded default (SQLite + file://)', () => {
  let dir: string
  const env = () => ({ XCOM_DEMO_DIR: dir })
  const withXCom = async <T>(run: (xcom: XCom) => Promise<T>): Promise<T> => {
    const xcom = new XCom({ metadata: new SqliteMetadataStore({ path: join(dir, 'xcom.db') }) })
    try {
      return await run(xcom)
    } finally {
      await xcom.close()
    }
  }
  let firstRun = ''

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xcom-demo-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('runs the four tasks and lists every XCom of the run, extract offloaded and compressed', async () => {
    const result = await runDemo(['--records', RECORDS], env())
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    firstRun = runIdOf(result.stdout)

    const records = await withXCom((xcom) => listRun(xcom, DAG_ID, firstRun))
    const shown = records.map((r) => `${r.taskId}/${r.mapIndex}/${r.key}`)
    expect(shown).toEqual([
      'aggregate/-1/return_value',
      'extract/-1/return_value',
      'report/-1/customers_csv',
      'report/-1/return_value',
      ...[0, 1, 2, 3].flatMap((i) => [`transform/${i}/customers`, `transform/${i}/return_value`]),
    ])
    for (const record of records) {
      const line = tableLine(result.stdout, record.taskId, record.mapIndex, record.key)
      expect(line, `${record.taskId} ${record.mapIndex} ${record.key} in the table`).toBeDefined()
      if (record.value.kind === 'reference') expect(line).toContain(record.value.ref.uri)
      else expect(line).toMatch(/\sinline$/)
    }

    const extract = records.find((r) => r.taskId === 'extract')!
    expect(extract.value.kind).toBe('reference')
    if (extract.value.kind !== 'reference') return
    const ref = extract.value.ref as { uri: string; size: number; storedSize: number; codec: string }
    expect(ref.uri.startsWith(`file://${dir}/objects/`)).toBe(true)
    expect(ref.size).toBeGreaterThan(5 * 1024 * 1024)
    expect(ref.storedSize).toBeLessThan(ref.size / 4)
    expect(['zstd', 'gzip']).toContain(ref.codec)
    expect(tableLine(result.stdout, 'extract', -1, 'return_value')).toMatch(
      /MiB\s+[\d.]+ KiB\s+(zstd|gzip)\s/,
    )

    // Small results inline, the per-customer Maps and the CSV offloaded.
    const kinds = Object.fromEntries(records.map((r) => [`${r.taskId}/${r.mapIndex}/${r.key}`, r.value.kind]))
    expect(kinds['transform/0/return_value']).toBe('inline')
    expect(kinds['transform/0/customers']).toBe('reference')
    expect(kinds['report/-1/customers_csv']).toBe('reference')
    expect(kinds['aggregate/-1/return_value']).toBe('inline')
    expect(result.stdout).toMatch(/^12 XComs, 6 offloaded to object storage .* saved by compression/m)
    expect(result.stdout).toMatch(/^report: 20,000 orders from [\d,]+ customers, EUR \d+\.\d\d/m)
    expect(result.stdout).toContain(`xcom ls --dag ${DAG_ID} --run ${firstRun}`)
    expect(result.stdout).toContain(`export XCOM_METADATA_URL=sqlite://${dir}/xcom.db`)
  })

  it('gets a new run id on the next run and keeps the earlier run', async () => {
    const result = await runDemo(['--records', RECORDS], env())
    expect(result.code).toBe(0)
    const second = runIdOf(result.stdout)
    expect(second).not.toBe(firstRun)
    expect(result.stdout).toContain('1 earlier run(s) of demo_orders kept')
    const runs = await withXCom((xcom) => listRuns(xcom, DAG_ID))
    expect(runs.sort()).toEqual([firstRun, second].sort())
  })

  it('--clear removes the earlier runs, their rows and their object files', async () => {
    const result = await runDemo(['--records', '5000', '--clear'], env())
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(
      /^cleared 2 earlier run\(s\) of demo_orders: 24 XComs, 12 stored objects deleted$/m,
    )
    const third = runIdOf(result.stdout)
    const records = await withXCom((xcom) => xcom.list({ dagId: DAG_ID }).then((page) => page.records))
    expect(new Set(records.map((r) => r.runId))).toEqual(new Set([third]))
    const keys = records
      .flatMap((r) => (r.value.kind === 'reference' ? [r.value.ref.objectKey as string] : []))
      .sort()
    expect(keys.length).toBeGreaterThan(0)
    expect(await objectFiles(join(dir, 'objects'))).toEqual(keys)
    expect(await objectFiles(join(dir, 'objects', '.xcom', 'meta'))).toEqual(keys)
    expect(result.stdout).toContain('no earlier runs of demo_orders.')
  })

  it('refuses a bad --records with a message and exit code 1', async () => {
    const result = await runDemo(['--records', 'many'], env())
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('E_CONFIG: --records must be a whole number')
  })
})
