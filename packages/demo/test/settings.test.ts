import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generateOrders } from '../src/data.ts'
import { describeRecord, formatBytes, formatTable, summarize } from '../src/report.ts'
import { DEFAULT_DEMO_DIR, DEMO_CODEC, demoSettings } from '../src/settings.ts'
import { PACKAGE_DIR } from './run-demo.ts'

describe('demoSettings', () => {
  it('fills in the embedded default under XCOM_DEMO_DIR', () => {
    const { env, filled } = demoSettings({ XCOM_DEMO_DIR: '/srv/demo', HOME: '/root' })
    expect(filled).toEqual({
      XCOM_METADATA_URL: 'sqlite:///srv/demo/xcom.db',
      XCOM_OBJECTSTORAGE_PATH: 'file:///srv/demo/objects',
      XCOM_OBJECTSTORAGE_THRESHOLD: '65536',
      XCOM_OBJECTSTORAGE_COMPRESSION: DEMO_CODEC,
    })
    expect(env.HOME).toBe('/root')
  })

  it('defaults to .xcom at the repository root, whatever the working directory', () => {
    expect(DEFAULT_DEMO_DIR).toBe(join(PACKAGE_DIR, '..', '..', '.xcom'))
    expect(demoSettings({}).baseDir).toBe(DEFAULT_DEMO_DIR)
  })

  it('leaves every variable the user set alone, in either spelling', () => {
    const { env, filled } = demoSettings({
      XCOM_METADATA_URL: 'postgres://xcom@db/airflow',
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: 's3://aws@bucket/xcom',
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION: 'gzip',
    })
    expect(filled).toEqual({ XCOM_OBJECTSTORAGE_THRESHOLD: '65536' })
    expect(env.XCOM_OBJECTSTORAGE_PATH).toBeUndefined()
    expect(env.XCOM_OBJECTSTORAGE_COMPRESSION).toBeUndefined()
    expect(env.XCOM_METADATA_URL).toBe('postgres://xcom@db/airflow')
  })
})

describe('the data and the run table', () => {
  it('generates the same orders on every call', () => {
    const [a, b] = [generateOrders(50), generateOrders(50)]
    expect(a).toEqual(b)
    expect(typeof a[0]?.amountCents).toBe('bigint')
    expect(a[0]?.createdAt).toBeInstanceOf(Date)
  })

  it('shows inline values and references in aligned columns, and adds up what compression saved', () => {
    const base = { dagId: 'd', runId: 'r', createdAt: new Date(0), id: 'x' }
    const rows = [
      describeRecord({
        ...base,
        taskId: 'a',
        mapIndex: -1,
        key: 'return_value',
        value: { kind: 'inline', data: '1', size: 1 },
      }),
      describeRecord(
        {
          ...base,
          taskId: 'extract',
          mapIndex: 3,
          key: 'k',
          value: {
            kind: 'reference',
            size: 3 * 1024 * 1024,
            ref: {
              uri: 'file:///o/k.json.gz',
              size: 3 * 1024 * 1024,
              storedSize: 1024 * 1024,
              codec: 'gzip',
            },
          },
        },
        new Map([['extract\u00003\u0000k', 1500]]),
      ),
    ]
    const lines = formatTable(rows).split('\n')
    expect(lines).toHaveLength(4)
    expect(lines[2]).toMatch(/^a\s+-1\s+return_value\s+1 B\s+1 B\s+none\s+-\s+inline$/)
    expect(lines[3]).toMatch(
      /^extract\s+3\s+k\s+3\.0 MiB\s+1\.0 MiB\s+gzip\s+1\.5 s\s+file:\/\/\/o\/k\.json\.gz$/,
    )
    const where = lines[0]!.indexOf('where')
    expect(lines.slice(2).map((line) => line.slice(where))).toEqual(['inline', 'file:///o/k.json.gz'])
    expect(summarize(rows)).toEqual({
      xcoms: 2,
      offloaded: 1,
      offloadedBytes: 3 * 1024 * 1024,
      storedBytes: 1024 * 1024,
      savedBytes: 2 * 1024 * 1024,
    })
    expect(formatBytes(65_536)).toBe('64.0 KiB')
  })
})
