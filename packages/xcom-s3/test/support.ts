import { randomUUID } from 'node:crypto'
import { inspect } from 'node:util'
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { requireServiceOrSkip, type S3rverHandle, startS3rver } from '@xcom/test-services'
import { afterAll, afterEach, beforeAll, beforeEach, describe } from 'vitest'
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

export const MiB = 1024 * 1024

/** UTF-8 bytes of `value`. */
export const utf8 = (value: string): Uint8Array => new TextEncoder().encode(value)

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

/** The target of a test, which is skipped when there is none (s3rver did not start). */
export function targetOrSkip(getTarget: () => S3Target | undefined, ctx: { skip: () => void }): S3Target {
  const target = getTarget()
  if (!target) ctx.skip()
  return target as S3Target
}

/**
 * Opens stores on the target (its options, then `extra`) for the tests of a block, and closes them after the block.
 * @throws when there is no target: call it only in tests that skip without one.
 */
export function storeOpener(
  getTarget: () => S3Target | undefined,
): (extra?: Partial<S3ObjectStoreOptions>) => S3ObjectStore {
  const stores: S3ObjectStore[] = []
  afterAll(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
  })
  return (extra = {}) => {
    const target = getTarget()
    if (!target) throw new Error('unreachable: tests are skipped without a target')
    const store = new S3ObjectStore({ ...target.options, ...extra })
    stores.push(store)
    return store
  }
}

/** A plain SDK client on the target's endpoint with its credentials, for looking behind the store's back. */
export function rawClient(target: S3Target): S3Client {
  const { region, endpoint, forcePathStyle, credentials } = target.options
  return new S3Client({ region: region ?? process.env.AWS_REGION, endpoint, forcePathStyle, credentials })
}

/**
 * A store on the target whose access key s3rver does not know: s3rver checks that the key exists, but does not verify
 * V4 signatures (a wrong secret alone passes).
 */
export function unknownKeyStore(target: S3Target, secretAccessKey: string): S3ObjectStore {
  return new S3ObjectStore({ ...target.options, credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey } })
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

/**
 * `tests` in a block against real AWS S3 (see {@link awsTarget}), whose prefix is emptied afterwards; without
 * XCOM_TEST_S3_BUCKET the block is skipped and a warning says how to run it. `tests` is called either way, to collect
 * the tests: it may keep the target, but use it only inside tests and hooks.
 */
export function describeOnAws(what: string, tests: (target: S3Target) => void): void {
  const target = awsTarget()
  if (!target) {
    console.warn(
      `${what} on real AWS S3 skipped: set XCOM_TEST_S3_BUCKET (and AWS_REGION plus AWS credentials) to run it.`,
    )
  }
  describe.skipIf(!target)(`${what} on AWS S3 (XCOM_TEST_S3_BUCKET)`, () => {
    afterAll(async () => {
      if (target) await emptyPrefix(target)
    })
    tests(target as S3Target)
  })
}

/** Deletes every object under the target's prefix (AWS runs clean up after themselves). */
async function emptyPrefix(target: S3Target): Promise<void> {
  const store = new S3ObjectStore(target.options)
  const objectKeys: string[] = []
  for await (const info of store.list('')) objectKeys.push(info.objectKey)
  await store.deleteMany(objectKeys)
  await store.close()
}

/** An S3 error as the SDK throws it: `name` is S3's error code. */
export function serviceError(name: string, status: number, message = `${name} happened`): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  })
}

/** Every line written by console.* and every process warning while a test of the block runs, inspected whole. */
export function captureOutput(): string[] {
  const lines: string[] = []
  const originals = { warn: console.warn, error: console.error, log: console.log, info: console.info }
  const onWarning = (warning: Error) => lines.push(inspect(warning))
  beforeEach(() => {
    lines.length = 0
    for (const name of Object.keys(originals) as (keyof typeof originals)[]) {
      console[name] = (...args: unknown[]) => {
        lines.push(args.map((arg) => inspect(arg)).join(' '))
      }
    }
    process.on('warning', onWarning)
  })
  afterEach(() => {
    Object.assign(console, originals)
    process.off('warning', onWarning)
  })
  return lines
}
