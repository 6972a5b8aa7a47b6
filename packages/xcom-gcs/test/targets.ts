import { randomUUID } from 'node:crypto'
import { type GcsServerHandle, requireServiceOrSkip, startGcsServer } from '@xcom/test-services'
import { afterAll, beforeAll } from 'vitest'
import { GcsObjectStore, type GcsObjectStoreOptions } from '../src/index.ts'

/**
 * Where the tests run: the project's GCS JSON-API test server (always), and real Google Cloud Storage when
 * `XCOM_TEST_GCS_BUCKET` names a bucket (credentials from Application Default Credentials; `XCOM_TEST_GCS_PROJECT`
 * optionally sets the project). Each test file starts its own server.
 */
export interface GcsTarget {
  name: string
  bucket: string
  /** The test server, for fault injection and corruption (undefined for real GCS). */
  server: GcsServerHandle | undefined
  /** Store options pointing at this target. */
  options: Partial<GcsObjectStoreOptions>
}

/** The bucket the local server creates. */
export const LOCAL_BUCKET = 'xcom-test'

/** Quick retries (1 s at most between attempts: the SDK refuses less), so retry tests stay short. */
export const FAST_RETRIES = { maxRetryDelay: 1, retryDelayMultiplier: 1.1 }

/** Starts the local server (skipping loudly outside CI when it cannot start). */
export async function startLocal(): Promise<GcsTarget | undefined> {
  const server = await requireServiceOrSkip('GCS JSON-API test server', () =>
    startGcsServer({ buckets: [LOCAL_BUCKET] }),
  )
  if (!server) return undefined
  return {
    name: 'GCS test server',
    bucket: LOCAL_BUCKET,
    server,
    options: { apiEndpoint: server.apiEndpoint, projectId: server.projectId, retryOptions: FAST_RETRIES },
  }
}

/**
 * Starts the local server before the tests of the calling file and stops it after them. The getter gives the target;
 * the tests fail when the server did not start.
 */
export function useLocalTarget(): () => GcsTarget {
  let target: GcsTarget | undefined
  beforeAll(async () => {
    target = await startLocal()
    if (!target) throw new Error('The GCS test server did not start (see the warning above).')
  })
  afterAll(async () => {
    await target?.server?.stop()
  })
  return () => target as GcsTarget
}

/** The real-GCS target, when `XCOM_TEST_GCS_BUCKET` is set. */
export function realTarget(): GcsTarget | undefined {
  const bucket = process.env.XCOM_TEST_GCS_BUCKET
  if (!bucket) return undefined
  const projectId = process.env.XCOM_TEST_GCS_PROJECT
  return { name: `real GCS (${bucket})`, bucket, server: undefined, options: projectId ? { projectId } : {} }
}

/** Says loudly why the real-GCS runs are skipped (the only skip allowed without a service failure). */
export function explainRealSkip(): void {
  if (!process.env.XCOM_TEST_GCS_BUCKET) {
    console.warn(
      'Real GCS tests skipped: set XCOM_TEST_GCS_BUCKET (and Application Default Credentials) to run them.',
    )
  }
}

/** A store on `target` under a fresh prefix. */
export function storeOn(target: GcsTarget, extra: Partial<GcsObjectStoreOptions> = {}): GcsObjectStore {
  return new GcsObjectStore({
    bucket: target.bucket,
    prefix: `xcom-gcs-test/${randomUUID()}`,
    ...target.options,
    ...extra,
  })
}
