import { randomUUID } from 'node:crypto'
import { requireServiceOrSkip, type S3rverHandle, startS3rver } from '@xcom/test-services'
import { afterAll, beforeAll } from 'vitest'
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/index.ts'

/** Where a suite runs: the local s3rver, or a real bucket when XCOM_TEST_S3_BUCKET is set. */
export interface S3Target {
  name: 's3rver' | 'aws'
  /** Options every store of this target needs (bucket, endpoint, credentials...), with a prefix unique to the run. */
  options: S3ObjectStoreOptions
  /** Whether the service honours If-None-Match on writes (s3rver does not). */
  conditionalCreate: boolean
  /** The s3rver handle (s3rver only). */
  server?: S3rverHandle
}

/** The bucket of the local runs (s3rver refuses names shorter than 3 characters). */
export const LOCAL_BUCKET = 'xcom-test'

/**
 * Starts s3rver for the file (beforeAll) and stops it (afterAll). Returns a getter: undefined when s3rver could not
 * start outside CI (the policy helper has already printed a loud warning; under CI=true it throws instead).
 */
export function useS3rver(): () => S3Target | undefined {
  let target: S3Target | undefined
  beforeAll(async () => {
    const server = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: LOCAL_BUCKET }))
    if (!server) return
    target = {
      name: 's3rver',
      server,
      conditionalCreate: false,
      options: {
        bucket: LOCAL_BUCKET,
        prefix: `run-${randomUUID()}`,
        endpoint: server.endpoint,
        region: server.region,
        forcePathStyle: true,
        credentials: server.credentials,
        conditionalCreate: false,
      },
    }
  })
  afterAll(async () => {
    await target?.server?.stop()
  })
  return () => target
}

/**
 * The real-AWS target: set XCOM_TEST_S3_BUCKET (an existing bucket) and the standard AWS variables (AWS_REGION,
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, or AWS_PROFILE). Objects go under a fresh
 * `xcom-test/<uuid>` prefix, deleted afterwards.
 */
export function awsTarget(): S3Target | undefined {
  const bucket = process.env.XCOM_TEST_S3_BUCKET
  if (!bucket) return undefined
  return {
    name: 'aws',
    conditionalCreate: true,
    options: {
      bucket,
      prefix: `xcom-test/${randomUUID()}`,
      ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
    },
  }
}

/** Deletes every object under the target's prefix (AWS runs clean up after themselves). */
export async function emptyPrefix(target: S3Target): Promise<void> {
  const store = new S3ObjectStore(target.options)
  const keys: string[] = []
  for await (const info of store.list('')) keys.push(info.key)
  await store.deleteMany(keys)
  await store.close()
}

/** `size` bytes of a repeating, position-dependent pattern (so a misplaced part shows). */
export function patternBytes(size: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed + (i >>> 16)) & 0xff
  return bytes
}

/** A web stream of `bytes` in chunks of `chunkSize`. */
export function chunkedStream(bytes: Uint8Array, chunkSize: number): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close()
      controller.enqueue(bytes.slice(offset, offset + chunkSize))
      offset += chunkSize
    },
  })
}
