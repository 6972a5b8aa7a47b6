import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { metadataStoreFactory } from '@xcom/postgres'
import { freePort, requireServiceOrSkip, type S3rverHandle, startS3rver } from '@xcom/test-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Check } from '../src/commands/doctor.ts'
import { EXIT } from '../src/exit-codes.ts'
import { expectHealthy, xcom } from './run.ts'

const POSTGRES_URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
/** A schema of its own, so helpers testing the same server at the same time never see these rows. */
const PG_URL = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=xcom_cli_test`
const BUCKET = 'xcom-cli-doctor'

let s3: S3rverHandle | undefined
let postgres: boolean | undefined
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-cli-doctor-'))
  s3 = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: BUCKET }))
  postgres = await requireServiceOrSkip('postgres', async () => {
    const store = await metadataStoreFactory(PG_URL)
    await store.identity()
    await store.close()
    return true
  })
})
afterAll(async () => {
  await s3?.stop()
  await rm(dir, { recursive: true, force: true })
})

/** The environment pointing object storage at s3rver's `bucket` through an Airflow aws connection. */
function s3Env(server: S3rverHandle, bucket: string): Record<string, string> {
  return {
    XCOM_METADATA_URL: `sqlite://${join(dir, 'xcom.db')}`,
    XCOM_OBJECTSTORAGE_PATH: `s3://local_s3@${bucket}/xcom`,
    XCOM_OBJECTSTORAGE_THRESHOLD: '0',
    XCOM_CONN_LOCAL_S3: JSON.stringify({
      conn_type: 'aws',
      login: server.credentials.accessKeyId,
      password: server.credentials.secretAccessKey,
      extra: {
        region_name: server.region,
        endpoint_url: server.endpoint,
        config_kwargs: { s3: { addressing_style: 'path' } },
      },
    }),
  }
}

describe('xcom doctor', () => {
  it('passes every check on a working sqlite + s3 setup, and the probe leaves nothing behind', async (ctx) => {
    if (!s3) return ctx.skip()
    const env = s3Env(s3, BUCKET)
    await expectHealthy(env)
    expect(JSON.parse((await xcom(['ls', '--json'], env)).stdout)).toEqual([])
    expect(JSON.parse((await xcom(['gc', '--dry-run', '--json'], env)).stdout).sweep.scanned).toBe(0)
  })

  it('names a missing bucket, says how to fix it, and exits 1', async (ctx) => {
    if (!s3) return ctx.skip()
    const run = await xcom(['doctor'], s3Env(s3, 'no-such-bucket'))
    expect(run.code).toBe(EXIT.problems)
    expect(run.stdout).toMatch(/^ok\s+metadata database/m)
    expect(run.stdout).toMatch(
      /^FAIL\s+object store s3:\/\/local_s3@no-such-bucket\/xcom: write: E_NOT_FOUND/m,
    )
    expect(run.stdout).toMatch(/fix: create the bucket \(container\) of s3:\/\/local_s3@no-such-bucket\/xcom/)
    expect(run.stdout).not.toContain(s3.credentials.secretAccessKey)
  })

  it('says when the prefix belongs to another metadata database', async () => {
    const objects = `file://${join(dir, 'shared-objects')}`
    const first = { XCOM_METADATA_URL: `sqlite://${join(dir, 'first.db')}`, XCOM_OBJECTSTORAGE_PATH: objects }
    const second = { ...first, XCOM_METADATA_URL: `sqlite://${join(dir, 'second.db')}` }
    const before = JSON.parse((await xcom(['doctor', '--json'], first)).stdout) as Check[]
    expect(before.at(-1)).toMatchObject({ ok: true, detail: expect.stringContaining('unclaimed') })
    expect((await xcom(['push', 'etl', 'r1', 't', '--json', '1', '--threshold', '0'], first)).code).toBe(
      EXIT.ok,
    )
    const owner = await xcom(['doctor'], first)
    expect(owner.code).toBe(EXIT.ok)
    expect(owner.stdout).toMatch(/owner: claimed by this database/)
    const other = await xcom(['doctor'], second)
    expect(other.code).toBe(EXIT.problems)
    expect(other.stdout).toMatch(
      /^FAIL\s+object store .*: owner: the prefix belongs to the metadata database sqlite:\/\/.*first\.db/m,
    )
    expect(other.stdout).toContain('fix: give this database its own prefix')
  })

  it('names an unreachable PostgreSQL database and exits 1', async () => {
    const port = await freePort()
    const run = await xcom(['doctor', '--json'], {
      XCOM_METADATA_URL: `postgres://xcom:topsecret@127.0.0.1:${port}/test`,
      XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'objects')}`,
    })
    expect(run.code).toBe(EXIT.problems)
    const checks = JSON.parse(run.stdout) as Check[]
    expect(checks[0]).toMatchObject({ name: 'metadata database', ok: false })
    expect(checks[0]?.detail).toContain(`127.0.0.1:${port}`)
    expect(checks[0]?.fix).toContain('XCOM_METADATA_URL')
    // The store is still probed: one broken service does not hide the state of the other.
    expect(checks.slice(1).map((check) => check.ok)).toEqual([true, true, true])
    expect(run.stdout).not.toContain('topsecret')
  })

  it('passes on PostgreSQL, where push, ls, verify and clear work too', async (ctx) => {
    if (!postgres) return ctx.skip()
    const env = {
      XCOM_METADATA_URL: PG_URL,
      XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'pg-objects')}`,
      XCOM_OBJECTSTORAGE_THRESHOLD: '16',
    }
    await xcom(['clear', 'cli_pg', '--yes'], env)
    const doctor = await xcom(['doctor'], env)
    expect(doctor.code).toBe(EXIT.ok)
    expect(doctor.stdout).toMatch(/^ok\s+metadata database: postgres:\/\/.*schema is current/m)
    expect(
      (await xcom(['push', 'cli_pg', 'r1', 't', '--json', '"a value longer than sixteen bytes"'], env)).code,
    ).toBe(0)
    expect((await xcom(['push', 'cli_pg', 'r1', 'u', '--json', '1'], env)).code).toBe(0)
    const rows = JSON.parse((await xcom(['ls', '--dag', 'cli_pg', '--json'], env)).stdout) as {
      kind: string
    }[]
    expect(rows.map((row) => row.kind)).toEqual(['reference', 'inline'])
    expect((await xcom(['verify', '--dag', 'cli_pg'], env)).code).toBe(EXIT.ok)
    expect((await xcom(['clear', 'cli_pg', '--yes'], env)).stdout).toContain(
      'deleted 2 XComs, purged 1 object',
    )
  })
})
