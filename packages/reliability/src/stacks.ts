/**
 * XCom stacks under test: a metadata store and an object store, optionally wrapped by a fault plan. The unwrapped
 * stores stay reachable, so that the invariant check reads the truth, not what a fault makes it look like.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type MetadataStore, type ObjectStore, XCom } from '@xcom/core'
import { FileObjectStore, ObjectStoreXComBackend } from '@xcom/objectstore'
import { PostgresMetadataStore } from '@xcom/postgres'
import { S3ObjectStore } from '@xcom/s3'
import { SqliteMetadataStore } from '@xcom/sqlite'
import { type FaultPlan, faultyMetadataStore, faultyObjectStore } from '@xcom/testing'
import { dropSchema, freshSchema, postgresUrlFor, s3Options } from './services.ts'
import { gzipCodec } from './values.ts'

/** Values up to this many bytes stay inline; the workload's offloaded values are larger. */
export const THRESHOLD = 1024

/** An XCom under test, with the stores it wraps. */
export interface Stack {
  /** e.g. `file + SQLite`. */
  readonly name: string
  /** The XCom the workload drives (through the fault wrappers when a plan is given). */
  readonly xcom: XCom
  /** An XCom on the same stores without faults: what the final check uses. */
  readonly clean: XCom
  /** Warnings and errors XCom logged (failed purges left to gc...), counted instead of printed. */
  readonly logged: { warn: number; error: number }
  /** The unwrapped object store. */
  readonly store: ObjectStore
  close(): Promise<void>
}

/** Builds the two XComs of a stack from the raw stores. */
export function stackOf(
  name: string,
  metadata: MetadataStore,
  store: ObjectStore,
  plan: FaultPlan | undefined,
  cleanup: () => Promise<void>,
): Stack {
  const backend = (objects: ObjectStore) =>
    new ObjectStoreXComBackend({ store: objects, threshold: THRESHOLD, compression: gzipCodec() })
  const logged = { warn: 0, error: 0 }
  const logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => void logged.warn++,
    error: () => void logged.error++,
  }
  const xcom = plan
    ? new XCom({
        metadata: faultyMetadataStore(metadata, plan),
        backend: backend(faultyObjectStore(store, plan)),
        logger,
      })
    : new XCom({ metadata, backend: backend(store), logger })
  const clean = new XCom({ metadata, backend: backend(store), logger })
  return {
    name,
    xcom,
    clean,
    logged,
    store,
    async close() {
      await metadata.close()
      await store.close?.()
      await cleanup()
    },
  }
}

/** `file://` objects and a SQLite database in a fresh temporary directory. */
export async function fileSqliteStack(plan?: FaultPlan): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'xcom-reliability-'))
  return stackOf(
    'file + SQLite',
    new SqliteMetadataStore({ path: join(dir, 'xcom.db') }),
    new FileObjectStore({ root: join(dir, 'objects') }),
    plan,
    () => rm(dir, { recursive: true, force: true }),
  )
}

/** s3rver objects under a fresh prefix and PostgreSQL tables in a fresh schema (dropped on close). */
export function s3PostgresStack(s3Endpoint: string, plan?: FaultPlan, label = 'faults'): Stack {
  const schema = freshSchema(label)
  return stackOf(
    's3rver + PostgreSQL',
    new PostgresMetadataStore({ connectionString: postgresUrlFor(`xcom-reliability-${label}`), schema }),
    new S3ObjectStore(s3Options(s3Endpoint, schema)),
    plan,
    () => dropSchema(schema),
  )
}
