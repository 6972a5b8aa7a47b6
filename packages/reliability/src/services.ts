/**
 * The real services the scenarios use: PostgreSQL (the local server or XCOM_TEST_POSTGRES_URL), s3rver (in this
 * process, or in a child of its own for load runs), azurite and the GCS test server, each started through
 * @xcom/test-services.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { S3ObjectStoreOptions } from '@xcom/s3'
import { type GcsServerHandle, startGcsServer, startS3rver } from '@xcom/test-services'
import pg from 'pg'

/** The PostgreSQL server: XCOM_TEST_POSTGRES_URL, or the local one (trust auth, database `test`). */
export const POSTGRES_URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** The bucket (and Azure container) every scenario uses. */
export const BUCKET = 'xcom-reliability'

/** An S3 endpoint with s3rver's fixed credentials. */
export interface S3Endpoint {
  endpoint: string
  stop(): Promise<void>
}

/** Connects an admin client (fails fast when the server is unreachable). */
export async function connectPostgres(applicationName = 'xcom-reliability-admin'): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: POSTGRES_URL,
    connectionTimeoutMillis: 3000,
    application_name: applicationName,
  })
  client.on('error', () => undefined) // a terminated admin session surfaces on its next query instead
  await client.connect()
  return client
}

/** A new schema name, so that runs never share tables (dropped by {@link dropSchema}). */
export function freshSchema(label: string): string {
  return `rel_${label}_${randomUUID().slice(0, 8)}`
}

/** Drops a schema made for one run. */
export async function dropSchema(schema: string): Promise<void> {
  const client = await connectPostgres()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

/** `POSTGRES_URL` with an `application_name`, so that pg_stat_activity tells a run's connections apart. */
export function postgresUrlFor(applicationName: string): string {
  const url = new URL(POSTGRES_URL)
  url.searchParams.set('application_name', applicationName)
  return url.toString()
}

/** Starts s3rver in this process with the bucket. */
export async function startS3(): Promise<S3Endpoint> {
  const server = await startS3rver({ bucket: BUCKET })
  return { endpoint: server.endpoint, stop: () => server.stop() }
}

/** Starts s3rver in a child process of its own, so that a load run's parent never slows it down. */
export async function startS3Process(): Promise<S3Endpoint> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./s3rver-child.ts', import.meta.url)), [], {
    execArgv: ['--conditions=@xcom/source', '--no-warnings'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve(String((message as { endpoint: string }).endpoint)))
    child.once('exit', (code) =>
      reject(new Error(`the s3rver child exited with code ${code} before listening`)),
    )
    child.once('error', reject)
  })
  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.send('stop')
      await exited
    },
  }
}

/** S3ObjectStore options for an s3rver endpoint. */
export function s3Options(endpoint: string, prefix: string): S3ObjectStoreOptions {
  return {
    bucket: BUCKET,
    prefix,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    conditionalCreate: false, // s3rver ignores If-None-Match
  }
}

/** Starts the GCS test server with the bucket. */
export function startGcs(): Promise<GcsServerHandle> {
  return startGcsServer({ buckets: [BUCKET] })
}
