// `pnpm --filter @xcom/demo services`: the local services the tests use, on fixed ports, for the demo to run against.
// Starts s3rver, azurite and the project's GCS test server, creates a bucket in each, prints the variables to export,
// and keeps them running until Ctrl-C. PostgreSQL is the server already running on 127.0.0.1:5432.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startAzurite, startGcsServer, startS3rver } from '@xcom/test-services'
import { DEFAULT_DEMO_DIR } from './settings.ts'

/** The bucket (container) created in every service. */
export const DEMO_BUCKET = 'xcom-demo'

/** `'text'` for a shell, escaping single quotes. */
function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}

const { values } = parseArgs({
  options: {
    's3-port': { type: 'string', default: '4569' },
    'azure-port': { type: 'string', default: '10000' },
    'gcs-port': { type: 'string', default: '4443' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const port = (name: string, text: string) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`--${name} must be a port number; got "${text}"`)
  return n
}

const stops: (() => Promise<void>)[] = []
const stopAll = async () => {
  await Promise.allSettled(stops.splice(0).map((stop) => stop()))
}
try {
  const s3 = await startS3rver({ bucket: DEMO_BUCKET, port: port('s3-port', values['s3-port']) })
  stops.push(() => s3.stop())
  const gcs = await startGcsServer({ buckets: [DEMO_BUCKET], port: port('gcs-port', values['gcs-port']) })
  stops.push(() => gcs.stop())
  const azurite = await startAzurite({
    port: port('azure-port', values['azure-port']),
    containers: [DEMO_BUCKET],
  })
  stops.push(() => azurite.stop())

  const s3Conn = `s3://${s3.credentials.accessKeyId}:${s3.credentials.secretAccessKey}@?region=${s3.region}&endpoint=${encodeURIComponent(s3.endpoint)}&force_path_style=true`
  const gcsConn = `gs://?project=${gcs.projectId}&endpoint=${encodeURIComponent(gcs.apiEndpoint)}`
  const azureConn = JSON.stringify({
    conn_type: 'wasb',
    extra: { connection_string: azurite.connectionString },
  })
  const postgres = values.postgres
  const schema = `${postgres}${postgres.includes('?') ? '&' : '?'}schema=xcom_demo`
  // Each block keeps its own SQLite file: a run's references name objects of the store it was pushed to.
  const block = (title: string, dir: string, lines: [string, string][]) =>
    [
      `# ${title}`,
      ...[['XCOM_DEMO_DIR', join(DEFAULT_DEMO_DIR, dir)] as [string, string], ...lines].map(
        ([name, value]) => `export ${name}=${quote(value)}`,
      ),
    ].join('\n')
  console.log(`Local services for the demo (Ctrl-C stops them; their data goes with them):
  s3rver   ${s3.endpoint}   bucket ${DEMO_BUCKET}
  GCS      ${gcs.apiEndpoint}   bucket ${DEMO_BUCKET} (the project's GCS JSON-API test server)
  azurite  ${azurite.blobEndpoint}   container ${DEMO_BUCKET}

In another terminal, export ONE block and run \`pnpm demo\`; unset its variables to go back to the embedded default.

${block('S3 (s3rver)', 's3', [
  ['XCOM_OBJECTSTORAGE_PATH', `s3://demo_s3@${DEMO_BUCKET}/xcom?conditional_create=false`],
  ['XCOM_CONN_DEMO_S3', s3Conn],
])}

${block('GCS (the GCS test server)', 'gcs', [
  ['XCOM_OBJECTSTORAGE_PATH', `gs://demo_gcs@${DEMO_BUCKET}/xcom`],
  ['XCOM_CONN_DEMO_GCS', gcsConn],
])}

${block('Azure Blob Storage (azurite), in Airflow spelling', 'azure', [
  ['AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH', `abfs://demo_azure@${DEMO_BUCKET}/xcom`],
  ['AIRFLOW_CONN_DEMO_AZURE', azureConn],
])}

${block(
  'PostgreSQL metadata + S3 objects (a prefix of its own: one metadata database per prefix)',
  'postgres',
  [
    ['XCOM_METADATA_URL', schema],
    ['XCOM_OBJECTSTORAGE_PATH', `s3://demo_s3@${DEMO_BUCKET}/xcom-pg?conditional_create=false`],
    ['XCOM_CONN_DEMO_S3', s3Conn],
  ],
)}
`)
} catch (error) {
  await stopAll()
  console.error(`services failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log('\nstopping the services...')
    void stopAll().then(() => process.exit(0))
  })
}
