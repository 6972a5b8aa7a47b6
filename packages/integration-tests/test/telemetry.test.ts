import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SpanStatusCode } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import { XCom } from '@xcom/core'
import {
  type AzuriteHandle,
  type GcsServerHandle,
  type RecordedMeter,
  recordedText,
  recordTelemetry,
  requireServiceOrSkip,
  type S3rverHandle,
  startAzurite,
  startGcsServer,
  startS3rver,
} from '@xcom/test-services'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

const BUCKET = 'xcom-telemetry'
/** Secrets of the connections below: none may reach a span, an event or a log line. */
const GCS_CANARY = 'gcs-canary-secret-value'
const ID = { dagId: 'etl', runId: 'r1', taskId: 'extract' }
/** About 400 KB of repetitive JSON: offloaded (threshold 0) and compressed well by gzip. */
const VALUE = {
  rows: Array.from({ length: 8000 }, (_, index) => ({ index, city: 'Zürich', ok: index % 2 === 0 })),
}

const recording = recordTelemetry()
const { spans, tracerProvider } = recording
/** The meter of the latest {@link recordedXCom}: each test reads the points its calls recorded. */
let meter: RecordedMeter
let dir: string
let s3: S3rverHandle | undefined
let azurite: AzuriteHandle | undefined
let gcs: GcsServerHandle | undefined

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-telemetry-'))
  s3 = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: BUCKET }))
  azurite = await requireServiceOrSkip('azurite', () => startAzurite({ containers: [BUCKET] }))
  gcs = await requireServiceOrSkip('GCS JSON-API test server', () => startGcsServer({ buckets: [BUCKET] }))
}, 120_000)
afterAll(async () => {
  recording.stop()
  await Promise.all([s3?.stop(), azurite?.stop(), gcs?.stop()])
  await rm(dir, { recursive: true, force: true })
})
afterEach(() => {
  spans.reset()
  gcs?.clearFaults()
})

/**
 * The object storage of each store under `prefix` (one metadata database per prefix), configured by environment
 * variables with secret-bearing connections.
 */
function storeEnvs(
  prefix: string,
): Record<string, { env: Record<string, string>; secrets: string[]; scheme: string }> {
  const envs: Record<string, { env: Record<string, string>; secrets: string[]; scheme: string }> = {
    file: { env: { XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, prefix)}` }, secrets: [], scheme: 'file' },
  }
  if (s3)
    envs.s3 = {
      scheme: 's3',
      secrets: [s3.credentials.secretAccessKey],
      env: {
        XCOM_OBJECTSTORAGE_PATH: `s3://local_s3@${BUCKET}/${prefix}`,
        XCOM_CONN_LOCAL_S3: JSON.stringify({
          conn_type: 'aws',
          login: s3.credentials.accessKeyId,
          password: s3.credentials.secretAccessKey,
          extra: {
            region_name: s3.region,
            endpoint_url: s3.endpoint,
            config_kwargs: { s3: { addressing_style: 'path' } },
          },
        }),
      },
    }
  if (azurite)
    envs.azure = {
      scheme: 'abfs',
      secrets: [azurite.accountKey],
      env: {
        XCOM_OBJECTSTORAGE_PATH: `abfs://local_azure@${BUCKET}/${prefix}`,
        AIRFLOW_CONN_LOCAL_AZURE: JSON.stringify({
          conn_type: 'wasb',
          extra: { connection_string: azurite.connectionString },
        }),
      },
    }
  if (gcs)
    envs.gcs = {
      scheme: 'gs',
      secrets: [GCS_CANARY],
      env: {
        XCOM_OBJECTSTORAGE_PATH: `gs://local_gcs@${BUCKET}/${prefix}`,
        XCOM_CONN_LOCAL_GCS: JSON.stringify({
          conn_type: 'google_cloud_platform',
          password: GCS_CANARY,
          extra: { project: 'test', is_anonymous: true, 'gcs.endpoint': gcs.apiEndpoint, num_retries: 0 },
        }),
      },
    }
  return envs
}

/** An XCom from the environment for `store`, recording into the test's providers and logging at debug. */
async function recordedXCom(store: Record<string, string>, database: string) {
  meter = recording.meter()
  const lines: string[] = []
  const xcom = await XCom.fromEnv(
    {
      XCOM_METADATA_URL: `sqlite://${join(dir, `${database}.db`)}`,
      XCOM_OBJECTSTORAGE_THRESHOLD: '0',
      XCOM_OBJECTSTORAGE_COMPRESSION: 'gzip',
      XCOM_LOG_LEVEL: 'debug',
      XCOM_LOG_FORMAT: 'json',
      ...store,
    },
    {
      telemetry: { tracer: tracerProvider.getTracer('it'), meter: meter.meter },
      logStream: { write: (line: string) => lines.push(line) },
    },
  )
  return { xcom, lines }
}

/** The spans whose parent is `parent`, by name. */
function childrenOf(parent: ReadableSpan | undefined, all: ReadableSpan[]): string[] {
  const id = parent?.spanContext().spanId
  return all.filter((span) => span.parentSpanContext?.spanId === id).map((span) => span.name)
}

describe.each(['file', 's3', 'azure', 'gcs'])('telemetry through %s', (name) => {
  it('a push and a pull make the expected span tree, attributes and metrics, with no secret anywhere', async (ctx) => {
    const store = storeEnvs('tree')[name]
    if (!store) return ctx.skip()
    const { xcom, lines } = await recordedXCom(store.env, `tree-${name}`)
    try {
      await tracerProvider.getTracer('task').startActiveSpan('task', async (task) => {
        await xcom.push(ID, VALUE)
        expect(await xcom.pull(ID)).toEqual(VALUE)
        task.end()
      })
    } finally {
      await xcom.close()
    }
    const all = spans.getFinishedSpans()
    const task = all.find((span) => span.name === 'task')
    expect(childrenOf(task, all)).toEqual(['xcom.push', 'xcom.pull'])
    const push = all.find((span) => span.name === 'xcom.push')
    const pull = all.find((span) => span.name === 'xcom.pull')
    expect(childrenOf(push, all)).toEqual(expect.arrayContaining(['xcom.serialize', 'xcom.upload']))
    expect(childrenOf(pull, all)).toEqual(expect.arrayContaining(['xcom.download']))
    const expected = {
      'xcom.dag_id': 'etl',
      'xcom.run_id': 'r1',
      'xcom.task_id': 'extract',
      'xcom.location': 'object_storage',
      'xcom.storage.scheme': store.scheme,
      'xcom.codec': 'gzip',
      'xcom.checksum.algorithm': 'crc32',
    }
    expect(push?.attributes).toMatchObject(expected)
    expect(pull?.attributes).toMatchObject(expected)
    const size = push?.attributes['xcom.value.size'] as number
    expect(push?.attributes['xcom.value.stored_size']).toBeLessThan(size / 4)
    if (name !== 'file') expect(push?.attributes['xcom.storage.bucket']).toBe(BUCKET)
    for (const span of all) expect(span.status.code, span.name).toBe(SpanStatusCode.UNSET)
    expect(await meter.counter('xcom.offloaded.values')).toBe(1)
    expect(await meter.counter('xcom.compression.saved')).toBeGreaterThan(size / 2)
    // --verbose's lines: one per call, naming the XCom, in JSON.
    const debug = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(debug.filter((line) => /^(push|pull) done/.test(String(line.msg)))).toHaveLength(2)
    const text = recordedText(all, lines)
    for (const secret of store.secrets) expect(text).not.toContain(secret)
  })
})

describe('a failed purge', () => {
  it('is a warning naming the XCom and what gc will do, an error span and a counter (GCS refusing deletes)', async (ctx) => {
    const store = storeEnvs('purge').gcs
    if (!store || !gcs) return ctx.skip()
    const { xcom, lines } = await recordedXCom(store.env, 'purge-gcs')
    try {
      await xcom.push(ID, VALUE)
      gcs.failNext({ method: 'DELETE', status: 503, times: 10 })
      expect(await xcom.clear({ dagId: 'etl' })).toMatchObject({ deleted: 1, failedPurges: 1 })
      gcs.clearFaults()
      const purge = spans.getFinishedSpans().find((span) => span.name === 'xcom.purge')
      expect(purge?.status.code).toBe(SpanStatusCode.ERROR)
      expect(purge?.attributes['error.type']).toMatch(/^E_/)
      expect(await meter.counter('xcom.purge.failures')).toBe(1)
      const warnings = lines.map((line) => JSON.parse(line)).filter((line) => line.level === 'warn')
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatchObject({
        msg: expect.stringMatching(
          /XCom etl\/r1\/extract\/return_value failed: .*the next gc\(\) deletes it\./,
        ),
        xcom: 'etl/r1/extract/return_value',
        uri: expect.stringMatching(new RegExp(`^gs://local_gcs@${BUCKET}/purge/etl/r1/extract/`)),
      })
      expect(recordedText(spans.getFinishedSpans(), lines)).not.toContain(GCS_CANARY)
      expect((await xcom.gc({ graceMs: 0 })).purgesRetried).toBe(1)
    } finally {
      await xcom.close()
    }
  })
})
