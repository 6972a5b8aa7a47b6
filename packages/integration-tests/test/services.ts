import type { S3ObjectStoreOptions } from '@xcom/s3'
import { requireServiceOrSkip, startS3rver } from '@xcom/test-services'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

/** The PostgreSQL server the tests use: XCOM_TEST_POSTGRES_URL, or the local one. */
export const POSTGRES_URL = process.env.XCOM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/**
 * Starts s3rver with a bucket for the file. The getter gives S3ObjectStore options (without prefix), or undefined when
 * s3rver could not start outside CI (a loud warning was printed; under CI=true the file fails instead).
 */
export function useS3rver(): () => Omit<S3ObjectStoreOptions, 'prefix'> | undefined {
  let stop: (() => Promise<void>) | undefined
  let options: Omit<S3ObjectStoreOptions, 'prefix'> | undefined
  beforeAll(async () => {
    const server = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: 'xcom-it' }))
    if (!server) return
    stop = () => server.stop()
    options = {
      bucket: 'xcom-it',
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: server.credentials,
      conditionalCreate: false, // s3rver ignores If-None-Match
    }
  })
  afterAll(async () => {
    await stop?.()
  })
  return () => options
}

/** Connects an admin client to PostgreSQL for the file (same policy as s3rver when it is unreachable). */
export function usePostgres(): () => pg.Client | undefined {
  let client: pg.Client | undefined
  beforeAll(async () => {
    client = await requireServiceOrSkip('PostgreSQL', async () => {
      const connected = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
      await connected.connect()
      return connected
    })
  })
  afterAll(async () => {
    await client?.end()
  })
  return () => client
}
