import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { metadataStoreFactory } from '@xcom/postgres'
import {
  type AzuriteHandle,
  freePort,
  type GcsServerHandle,
  requireServiceOrSkip,
  type S3rverHandle,
  startAzurite,
  startGcsServer,
  startS3rver,
} from '@xcom/test-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Check } from '../src/commands/doctor.ts'
import { EXIT } from '../src/exit-codes.ts'
import { expectHealthy, type Run, xcom } from './run.ts'

const BUCKET = 'xcom-cli-doctor'
const POSTGRES_URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
/** A well-formed account key that is not azurite's: the request is signed, and the signature is wrong. */
const WRONG_ACCOUNT_KEY = Buffer.alloc(64, 7).toString('base64')
/** The GCS test server needs no credentials: this password (ignored by GCS) must still never be printed. */
const GCS_CANARY = 'gcs-connection-canary-secret'

let dir: string
let s3: S3rverHandle | undefined
let azurite: AzuriteHandle | undefined
let gcs: GcsServerHandle | undefined
let postgres: boolean | undefined
/** A port nothing listens on: an unreachable endpoint. */
let deadPort: number

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-cli-doctor-clouds-'))
  deadPort = await freePort()
  s3 = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: BUCKET }))
  azurite = await requireServiceOrSkip('azurite', () => startAzurite({ containers: [BUCKET] }))
  gcs = await requireServiceOrSkip('GCS JSON-API test server', () => startGcsServer({ buckets: [BUCKET] }))
  postgres = await requireServiceOrSkip('postgres', async () => {
    // A schema of its own: the probe migrates it, and no other file's rows are touched.
    const store = await metadataStoreFactory(
      `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=xcom_cli_doctor_clouds`,
    )
    await store.close()
    return true
  })
})
afterAll(async () => {
  await Promise.all([s3?.stop(), azurite?.stop(), gcs?.stop()])
  await rm(dir, { recursive: true, force: true })
})

/** The variables of a sqlite database in the temp dir and object storage at `path` through connection `conn`. */
function env(path: string, conn: Record<string, unknown>): Record<string, string> {
  return {
    XCOM_METADATA_URL: `sqlite://${join(dir, 'xcom.db')}`,
    XCOM_OBJECTSTORAGE_PATH: path,
    XCOM_OBJECTSTORAGE_THRESHOLD: '0',
    XCOM_CONN_CLOUD: JSON.stringify(conn),
  }
}

/** An Airflow aws connection to s3rver's API at `endpoint`, trying once (no retries against a dead port). */
function s3Env(endpoint: string, login: string, password: string, bucket = BUCKET) {
  return env(`s3://cloud@${bucket}/xcom`, {
    conn_type: 'aws',
    login,
    password,
    extra: {
      region_name: 'us-east-1',
      endpoint_url: endpoint,
      config_kwargs: { s3: { addressing_style: 'path' }, retries: { total_max_attempts: 1 } },
    },
  })
}

/** An Airflow wasb connection to azurite's account at `accountUrl` with an account key. */
function azureEnv(accountUrl: string, key: string, container = BUCKET) {
  const { accountName } = azurite as AzuriteHandle
  return env(`abfs://cloud@${container}/xcom`, {
    conn_type: 'wasb',
    host: accountUrl,
    login: accountName,
    password: key,
  })
}

/** An anonymous Airflow google_cloud_platform connection to the GCS test server at `endpoint`, without retries. */
function gcsEnv(endpoint: string, bucket = BUCKET) {
  return env(`gs://cloud@${bucket}/xcom`, {
    conn_type: 'google_cloud_platform',
    password: GCS_CANARY,
    extra: { project: 'test', is_anonymous: true, 'gcs.endpoint': endpoint, num_retries: 0 },
  })
}

/**
 * Runs doctor and asserts it names the failing probe `check` of the store at `path` with `code`, prints a fix
 * matching `fix`, exits 1, and prints none of `secrets`.
 */
async function expectFailure(
  vars: Record<string, string>,
  expected: { check: string; code: string; fix: RegExp; secrets: string[] },
): Promise<Run> {
  const run = await xcom(['doctor'], vars)
  const url = vars.XCOM_OBJECTSTORAGE_PATH as string
  expect(run.code).toBe(EXIT.problems)
  expect(run.stdout).toMatch(/^ok\s+metadata database/m)
  expect(run.stdout).toContain(`FAIL  object store ${url}: ${expected.check}: ${expected.code}: `)
  const fix = run.stdout.split('\n').find((line) => line.trim().startsWith('fix:'))
  expect(fix).toMatch(expected.fix)
  for (const secret of expected.secrets) {
    expect(run.stdout).not.toContain(secret)
    expect(run.stderr).not.toContain(secret)
  }
  return run
}

const INVALID_CREDENTIALS =
  /fix: the service does not accept the credentials at all .*: correct them in the connection "cloud" \(XCOM_CONN_CLOUD or AIRFLOW_CONN_CLOUD\)/
const UNREACHABLE =
  /fix: nothing answers at the storage endpoint: start the service, or correct the endpoint .* in the connection "cloud" \(XCOM_CONN_CLOUD/

describe('xcom doctor on s3rver', () => {
  // A missing bucket and a passing run are in doctor.test.ts. A wrong secret access key cannot be tested here:
  // s3rver 3.7 checks the access key id but never verifies SigV4 signatures, so it accepts any secret.
  it('names an unknown access key id as invalid credentials, and exits 1', async (ctx) => {
    if (!s3) return ctx.skip()
    await expectFailure(s3Env(s3.endpoint, 'AKIANOSUCHKEY', 'unknown-key-secret'), {
      check: 'write',
      code: 'E_PERMISSION_DENIED',
      fix: INVALID_CREDENTIALS,
      secrets: ['unknown-key-secret'],
    })
  })

  it('names an unreachable endpoint, and exits 1', async () => {
    await expectFailure(s3Env(`http://127.0.0.1:${deadPort}`, 'S3RVER', 'dead-port-secret'), {
      check: 'write',
      code: 'E_BACKEND',
      fix: UNREACHABLE,
      secrets: ['dead-port-secret'],
    })
  })
})

describe('xcom doctor on azurite', () => {
  it('passes every check with a connection string', async (ctx) => {
    if (!azurite) return ctx.skip()
    await expectHealthy(
      env(`abfs://cloud@${BUCKET}/xcom`, {
        conn_type: 'wasb',
        extra: { connection_string: azurite.connectionString },
      }),
    )
  })

  it('names a missing container, says to create it, and exits 1', async (ctx) => {
    if (!azurite) return ctx.skip()
    await expectFailure(azureEnv(azurite.blobEndpoint, azurite.accountKey, 'no-such-container'), {
      check: 'write',
      code: 'E_NOT_FOUND',
      fix: /fix: create the bucket \(container\) of abfs:\/\/cloud@no-such-container\/xcom/,
      secrets: [azurite.accountKey],
    })
  })

  it('names a wrong account key as invalid credentials, and exits 1', async (ctx) => {
    if (!azurite) return ctx.skip()
    await expectFailure(azureEnv(azurite.blobEndpoint, WRONG_ACCOUNT_KEY), {
      check: 'write',
      code: 'E_PERMISSION_DENIED',
      fix: INVALID_CREDENTIALS,
      secrets: [WRONG_ACCOUNT_KEY, azurite.accountKey],
    })
  })

  // The Azure SDK retries a refused connection with backoff (its retries cannot be set through a connection).
  it('names an unreachable account URL, and exits 1', { timeout: 120_000 }, async (ctx) => {
    if (!azurite) return ctx.skip()
    await expectFailure(azureEnv(`http://127.0.0.1:${deadPort}/devstoreaccount1`, azurite.accountKey), {
      check: 'write',
      code: 'E_BACKEND',
      fix: UNREACHABLE,
      secrets: [azurite.accountKey],
    })
  })
})

describe('xcom doctor on the GCS test server', () => {
  it('passes every check', async (ctx) => {
    if (!gcs) return ctx.skip()
    await expectHealthy(gcsEnv(gcs.apiEndpoint))
  })

  it('names a missing bucket, says to create it, and exits 1', async (ctx) => {
    if (!gcs) return ctx.skip()
    await expectFailure(gcsEnv(gcs.apiEndpoint, 'no-such-bucket'), {
      check: 'write',
      code: 'E_NOT_FOUND',
      fix: /fix: create the bucket \(container\) of gs:\/\/cloud@no-such-bucket\/xcom/,
      secrets: [GCS_CANARY],
    })
  })

  // The test server checks no credentials: an injected 401 is what GCS answers for an invalid or expired token.
  it('names credentials refused as invalid (HTTP 401), and exits 1', async (ctx) => {
    if (!gcs) return ctx.skip()
    const fault = gcs.failNext({ status: 401, pathIncludes: '/upload/' })
    try {
      await expectFailure(gcsEnv(gcs.apiEndpoint), {
        check: 'write',
        code: 'E_PERMISSION_DENIED',
        fix: INVALID_CREDENTIALS,
        secrets: [GCS_CANARY],
      })
      expect(fault.hits).toBe(1)
    } finally {
      gcs.clearFaults()
    }
  })

  // An injected 403 is what GCS answers for valid credentials without storage.objects.create on the bucket.
  it('names credentials without permission (HTTP 403), says to grant it, and exits 1', async (ctx) => {
    if (!gcs) return ctx.skip()
    const fault = gcs.failNext({ status: 403, pathIncludes: '/upload/' })
    try {
      await expectFailure(gcsEnv(gcs.apiEndpoint), {
        check: 'write',
        code: 'E_PERMISSION_DENIED',
        fix: /fix: give the credentials of the connection permission to put, get and delete objects/,
        secrets: [GCS_CANARY],
      })
      expect(fault.hits).toBe(1)
    } finally {
      gcs.clearFaults()
    }
  })

  it('names an unreachable endpoint, and exits 1', async () => {
    await expectFailure(gcsEnv(`http://127.0.0.1:${deadPort}`), {
      check: 'write',
      code: 'E_BACKEND',
      fix: UNREACHABLE,
      secrets: [GCS_CANARY],
    })
  })
})

describe('xcom doctor on PostgreSQL', () => {
  it('names the database, still probes the cloud store, and exits 1', async (ctx) => {
    if (!gcs) return ctx.skip()
    const port = await freePort()
    const run = await xcom(['doctor', '--json'], {
      ...gcsEnv(gcs.apiEndpoint),
      XCOM_METADATA_URL: `postgres://xcom:pg-topsecret@127.0.0.1:${port}/airflow`,
    })
    expect(run.code).toBe(EXIT.problems)
    const checks = JSON.parse(run.stdout) as Check[]
    expect(checks[0]).toMatchObject({ name: 'metadata database', ok: false })
    expect(checks[0]?.detail).toContain(`127.0.0.1:${port}`)
    expect(checks[0]?.fix).toContain('XCOM_METADATA_URL')
    expect(checks.slice(1).map((check) => [check.name, check.ok])).toEqual([
      [`object store gs://cloud@${BUCKET}/xcom: write`, true],
      [`object store gs://cloud@${BUCKET}/xcom: read`, true],
      [`object store gs://cloud@${BUCKET}/xcom: delete`, true],
    ])
    for (const output of [run.stdout, run.stderr]) {
      expect(output).not.toContain('pg-topsecret')
      expect(output).not.toContain(GCS_CANARY)
    }
  })

  it('names PostgreSQL refusing an unknown user, says which variable to fix, and exits 1', async (ctx) => {
    if (!postgres) return ctx.skip()
    const url = new URL(POSTGRES_URL)
    url.username = 'xcom_no_such_role'
    url.password = 'pg-wrong-secret'
    const run = await xcom(['doctor'], {
      XCOM_METADATA_URL: url.href,
      XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'objects')}`,
    })
    expect(run.code).toBe(EXIT.problems)
    expect(run.stdout).toMatch(/^FAIL\s+metadata database: E_PERMISSION_DENIED: .*xcom_no_such_role/m)
    expect(run.stdout).toMatch(/fix: check XCOM_METADATA_URL .*accepts this user/)
    expect(run.stdout).toMatch(/^ok\s+object store file:.*: write/m)
    expect(run.stdout + run.stderr).not.toContain('pg-wrong-secret')
  })
})
