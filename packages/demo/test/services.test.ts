import { randomBytes } from 'node:crypto'
import { requireServiceOrSkip, type S3rverHandle, startS3rver } from '@xcom/test-services'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAG_ID } from '../src/pipeline.ts'
import { runDemo, runIdOf, tableLine } from './run-demo.ts'

/** The PostgreSQL server the tests use: XCOM_TEST_POSTGRES_URL, or the local one. */
const POSTGRES_URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

describe('the demo against s3rver and PostgreSQL, configured by environment variables only', () => {
  const schema = `xcom_demo_${randomBytes(4).toString('hex')}`
  let s3: S3rverHandle | undefined
  let admin: pg.Client | undefined

  beforeAll(async () => {
    s3 = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: 'xcom-demo' }))
    admin = await requireServiceOrSkip('PostgreSQL', async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
      await client.connect()
      return client
    })
  })
  afterAll(async () => {
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin?.end()
    await s3?.stop()
  })

  it('offloads to S3 and keeps the rows in PostgreSQL', async (ctx) => {
    if (!s3 || !admin) return ctx.skip()
    const endpoint = encodeURIComponent(s3.endpoint)
    const env = {
      XCOM_METADATA_URL: `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`,
      XCOM_OBJECTSTORAGE_PATH: 's3://demo_s3@xcom-demo/xcom?conditional_create=false',
      XCOM_CONN_DEMO_S3: `s3://S3RVER:S3RVER@?region=${s3.region}&endpoint=${endpoint}&force_path_style=true`,
    }
    const first = await runDemo(['--records', '8000'], env)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const runId = runIdOf(first.stdout)
    expect(first.stdout).toContain(`schema=${schema}`)
    expect(first.stdout).toContain(
      '(demo defaults for the unset XCOM_OBJECTSTORAGE_THRESHOLD, XCOM_OBJECTSTORAGE_COMPRESSION)',
    )
    const extract = tableLine(first.stdout, 'extract', -1, 'return_value')
    expect(extract).toMatch(/\s(zstd|gzip)\s.*\ss3:\/\/demo_s3@xcom-demo\/xcom\/demo_orders\//)
    expect(tableLine(first.stdout, 'transform', 2, 'customers')).toContain('s3://demo_s3@xcom-demo/')
    expect(tableLine(first.stdout, 'aggregate', -1, 'return_value')).toMatch(/\sinline$/)
    expect(first.stdout).toMatch(/^12 XComs, 6 offloaded/m)
    expect(first.stdout).not.toContain('export XCOM_METADATA_URL')

    const second = await runDemo(['--records', '8000', '--clear'], env)
    expect(second.code).toBe(0)
    expect(second.stdout).toMatch(
      /^cleared 1 earlier run\(s\) of demo_orders: 12 XComs, 6 stored objects deleted$/m,
    )
    expect(runIdOf(second.stdout)).not.toBe(runId)
    expect(second.stdout).toContain(`xcom verify --dag ${DAG_ID}`)
  })
})
