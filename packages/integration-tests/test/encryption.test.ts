import { randomBytes, randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { AzureBlobObjectStore } from '@xcom/azure'
import { gzip } from '@xcom/compression'
import { type MetadataStore, type ObjectStore, XCom, type XComRecord } from '@xcom/core'
import { aesGcmStream, FORMAT_NAME, generateKey, MAGIC, parseKeyList, staticKeys } from '@xcom/encryption'
import { GcsObjectStore } from '@xcom/gcs'
import { FileObjectStore, isObjectKey, ObjectStoreXComBackend } from '@xcom/objectstore'
import { PostgresMetadataStore } from '@xcom/postgres'
import { S3ObjectStore } from '@xcom/s3'
import { SqliteMetadataStore } from '@xcom/sqlite'
import {
  type AzuriteHandle,
  type GcsServerHandle,
  requireServiceOrSkip,
  type S3rverHandle,
  startAzurite,
  startGcsServer,
  startS3rver,
} from '@xcom/test-services'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_URL } from './services.ts'

const BUCKET = 'xcom-encryption'
/** Plaintext that must never be found in any stored byte: objects, object metadata, rows. */
const MARKER = 'MARKER-7d41c2-secret-customer-data'
const ID = { dagId: 'etl', runId: 'r1', taskId: 'extract' }
const THRESHOLD = 1024
const KEY = parseKeyList(generateKey('k-it'))[0] as NonNullable<ReturnType<typeof parseKeyList>[0]>

/** About 200 KB of repetitive JSON with the marker in every row: offloaded and compressed well by gzip. */
const json = {
  note: MARKER,
  rows: Array.from({ length: 3000 }, (_, i) => ({ i, name: MARKER, ok: i % 2 === 0 })),
}
/** Incompressible bytes with the marker in the clear at both ends: gzip is skipped for it, encryption is not. */
const noise = Buffer.concat([Buffer.from(MARKER), randomBytes(300_000), Buffer.from(MARKER)])
/** 2 MiB streamed in 32 chunks, each starting with the marker. */
const streamChunks = Array.from({ length: 32 }, () =>
  Buffer.concat([Buffer.from(MARKER), randomBytes(65_536 - MARKER.length)]),
)
const streamed = Buffer.concat(streamChunks)
/** Small values kept in the metadata database: sealed there by encryptInline. */
const small = { note: MARKER }
const smallBytes = Buffer.from(`${MARKER}-bytes`)

async function* chunks(): AsyncIterable<Uint8Array> {
  for (const chunk of streamChunks) {
    await new Promise((resolve) => setImmediate(resolve))
    yield chunk
  }
}

/** The forms the marker could take in stored text or bytes: itself, and base64 at each alignment. */
const needles = [
  MARKER,
  ...[0, 1, 2].map((shift) => {
    const encoded = Buffer.from(MARKER.slice(shift)).toString('base64')
    return encoded.slice(0, encoded.length - 4) // the tail depends on what follows
  }),
]
function expectNoMarker(text: string, where: string): void {
  for (const needle of needles) expect(text.includes(needle), `${needle} found in ${where}`).toBe(false)
}

let dir: string
let s3: S3rverHandle | undefined
let azurite: AzuriteHandle | undefined
let gcs: GcsServerHandle | undefined
let admin: pg.Client | undefined
const schemas: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-encryption-it-'))
  const started = await Promise.all([
    requireServiceOrSkip('s3rver', () => startS3rver({ bucket: BUCKET })),
    requireServiceOrSkip('azurite', () => startAzurite({ containers: [BUCKET] })),
    requireServiceOrSkip('GCS JSON-API test server', () => startGcsServer({ buckets: [BUCKET] })),
    requireServiceOrSkip('PostgreSQL', async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 })
      await client.connect()
      return client
    }),
  ])
  ;[s3, azurite, gcs, admin] = started
}, 120_000)
afterAll(async () => {
  for (const schema of schemas) await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await admin?.end()
  await Promise.all([s3?.stop(), azurite?.stop(), gcs?.stop()])
  await rm(dir, { recursive: true, force: true })
})

function newSchema(): string {
  const schema = `xcom_enc_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  schemas.push(schema)
  return schema
}

/** Each store under a fresh prefix, or undefined when its service is not there (locally only). */
const stores: Record<string, (prefix: string) => ObjectStore | undefined> = {
  file: (prefix) => new FileObjectStore({ root: join(dir, prefix) }),
  s3: (prefix) =>
    s3 &&
    new S3ObjectStore({
      bucket: BUCKET,
      prefix,
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: s3.credentials,
      conditionalCreate: false,
    }),
  azure: (prefix) =>
    azurite &&
    new AzureBlobObjectStore({ connectionString: azurite.connectionString, container: BUCKET, prefix }),
  gcs: (prefix) =>
    gcs &&
    new GcsObjectStore({ bucket: BUCKET, prefix, apiEndpoint: gcs.apiEndpoint, projectId: gcs.projectId }),
}

/** Pushes the four kinds of values and pulls each back equal; returns the records. */
async function roundTrip(xcom: XCom): Promise<Record<string, XComRecord>> {
  const records = {
    json: await xcom.push({ ...ID, key: 'json' }, json),
    noise: await xcom.push({ ...ID, key: 'noise' }, noise),
    stream: await xcom.push({ ...ID, key: 'stream' }, chunks()),
    small: await xcom.push({ ...ID, key: 'small' }, small),
    smallBytes: await xcom.push({ ...ID, key: 'small_bytes' }, smallBytes),
  }
  expect(await xcom.pull({ ...ID, key: 'json' })).toEqual(json)
  expect(Buffer.from(await xcom.pull<Uint8Array>({ ...ID, key: 'noise' })).equals(noise)).toBe(true)
  expect(Buffer.from(await xcom.pull<Uint8Array>({ ...ID, key: 'stream' })).equals(streamed)).toBe(true)
  const parts: Uint8Array[] = []
  for await (const part of (await xcom.pullStream({
    ...ID,
    key: 'stream',
  })) as unknown as AsyncIterable<Uint8Array>)
    parts.push(part)
  expect(Buffer.concat(parts).equals(streamed)).toBe(true)
  expect(await xcom.pull({ ...ID, key: 'small' })).toEqual(small)
  expect(Buffer.from(await xcom.pull<Uint8Array>({ ...ID, key: 'small_bytes' })).equals(smallBytes)).toBe(
    true,
  )
  return records
}

/** What the records say about how each value was stored: offloaded, compressed or not, encrypted with the key. */
function expectStoredAsIntended(records: Record<string, XComRecord>, keyId: string): void {
  const ref = (name: string) => {
    const value = records[name]?.value
    if (value?.kind !== 'reference') throw new Error(`${name}: expected a reference, got ${value?.kind}`)
    return value.ref as Record<string, unknown>
  }
  expect(ref('json')).toMatchObject({ codec: 'gzip', encryption: FORMAT_NAME, keyId })
  expect(ref('noise')).toMatchObject({ compressionSkipped: 'gzip', encryption: FORMAT_NAME, keyId })
  expect(ref('stream')).toMatchObject({ encryption: FORMAT_NAME, keyId })
  for (const name of ['small', 'smallBytes']) {
    const value = records[name]?.value
    expect(value?.kind).toBe('inline')
    expect(value?.kind === 'inline' && value.data.startsWith('xcom-encrypted:')).toBe(true)
  }
}

/**
 * Reads every object of `store` raw through the ObjectStore API: no marker in any byte or metadata value, and every
 * value object starts with the encryption's magic and names the format in its metadata. Returns the value keys.
 */
async function expectStoreHasNoMarker(store: ObjectStore, keyId: string): Promise<string[]> {
  const values: string[] = []
  for await (const info of store.list('')) {
    const body = await store.get(info.objectKey)
    const bytes = Buffer.from(await body.bytes())
    expectNoMarker(bytes.toString('latin1'), `${store.url} ${info.objectKey}`)
    expectNoMarker(JSON.stringify({ ...info.metadata, ...body.metadata }), `metadata of ${info.objectKey}`)
    if (isObjectKey(info.objectKey)) {
      values.push(info.objectKey)
      expect(bytes.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC)), info.objectKey).toBe(true)
      expect(body.metadata).toMatchObject({ xcomencryption: FORMAT_NAME, xcomkeyid: keyId })
    }
  }
  return values
}

/** Every row of every table of the schema, as text. */
async function expectSchemaHasNoMarker(schema: string): Promise<number> {
  const client = admin as pg.Client
  const tables = await client.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
    [schema],
  )
  let records = 0
  for (const { table_name } of tables.rows) {
    const rows = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${schema}."${table_name}" t`)
    for (const { row } of rows.rows) expectNoMarker(row, `${schema}.${table_name}`)
    if (table_name === 'xcom_record') records = rows.rowCount ?? 0
  }
  return records
}

/** Every byte of every file under `root` (file:// sidecars, SQLite database and journal files). */
function expectFilesHaveNoMarker(root: string): void {
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    expectNoMarker(readFileSync(path).toString('latin1'), relative(dir, path))
  }
}

describe.each(Object.keys(stores))('encryption through %s', (name) => {
  it('round-trips JSON (gzip), incompressible bytes, a stream and sealed inline values; no marker is stored', async (ctx) => {
    const prefix = `values-${name}-${randomUUID().slice(0, 8)}`
    const store = stores[name]?.(prefix)
    if (!store) return ctx.skip()
    // file:// keeps its rows in SQLite; the cloud stores in PostgreSQL (SQLite when it is not there, locally).
    const schema = name !== 'file' && admin ? newSchema() : undefined
    const sqliteDir = join(dir, `${prefix}-db`)
    const metadata: MetadataStore = schema
      ? new PostgresMetadataStore({ connectionString: POSTGRES_URL, schema })
      : new SqliteMetadataStore({ path: join(sqliteDir, 'xcom.db') })
    const xcom = new XCom({
      metadata,
      backend: new ObjectStoreXComBackend({
        store,
        threshold: THRESHOLD,
        compression: gzip(),
        encryption: aesGcmStream({ keys: staticKeys([KEY]) }),
        encryptInline: true,
      }),
    })
    try {
      const records = await roundTrip(xcom)
      expectStoredAsIntended(records, KEY.id)
      const raw = stores[name]?.(prefix) as ObjectStore
      try {
        const values = await expectStoreHasNoMarker(raw, KEY.id)
        expect(values).toHaveLength(3)
      } finally {
        await raw.close?.()
      }
      if (schema) expect(await expectSchemaHasNoMarker(schema)).toBe(5)
    } finally {
      await xcom.close()
    }
    if (!schema) expectFilesHaveNoMarker(sqliteDir)
    if (name === 'file') expectFilesHaveNoMarker(join(dir, prefix))
  })

  it('round-trips uncompressed JSON over 8 MiB, encrypted slice by slice as it is written', async (ctx) => {
    const prefix = `large-${name}-${randomUUID().slice(0, 8)}`
    const store = stores[name]?.(prefix)
    if (!store) return ctx.skip()
    const encryption = aesGcmStream({ keys: staticKeys([KEY]) })
    const metadataDir = join(dir, `${prefix}-db`)
    const xcom = new XCom({
      metadata: new SqliteMetadataStore({ path: join(metadataDir, 'xcom.db') }),
      backend: new ObjectStoreXComBackend({ store, threshold: THRESHOLD, encryption }),
    })
    try {
      const large = Array.from({ length: 130_000 }, (_, i) => ({ i, note: `${MARKER} Zürich 😀` }))
      const record = await xcom.push({ ...ID, key: 'large' }, large)
      const ref = (record.value.kind === 'reference' ? record.value.ref : {}) as Record<string, unknown>
      expect(ref.size).toBeGreaterThan(8 * 1024 * 1024)
      expect(ref).toMatchObject({ encryption: FORMAT_NAME, keyId: KEY.id })
      expect(ref.storedSize).toBe(encryption.encryptedSize(Number(ref.size)))
      expect(await xcom.pull({ ...ID, key: 'large' })).toEqual(large)
      const raw = stores[name]?.(prefix) as ObjectStore
      try {
        expect(await expectStoreHasNoMarker(raw, KEY.id)).toHaveLength(1)
      } finally {
        await raw.close?.()
      }
    } finally {
      await xcom.close()
    }
  })
})

describe('encryption configured from the environment only', () => {
  it('XCom.fromEnv with XCOM_ENCRYPTION_KEYS, XCOM_ENCRYPTION_INLINE, file:// and PostgreSQL seals objects and rows', async (ctx) => {
    if (!admin) return ctx.skip()
    const schema = newSchema()
    const root = join(dir, 'from-env')
    const url = new URL(POSTGRES_URL)
    url.searchParams.set('schema', schema)
    const keys = `${generateKey('k-env-new')},${generateKey('k-env-old')}`
    const env = {
      XCOM_METADATA_URL: url.toString(),
      XCOM_OBJECTSTORAGE_PATH: `file://${root}`,
      XCOM_OBJECTSTORAGE_THRESHOLD: String(THRESHOLD),
      XCOM_OBJECTSTORAGE_COMPRESSION: 'gzip',
      XCOM_ENCRYPTION_KEYS: keys,
      XCOM_ENCRYPTION_INLINE: 'true',
      XCOM_LOG_LEVEL: 'silent',
    }
    const xcom = await XCom.fromEnv(env)
    try {
      expect(xcom.metadata).toBeInstanceOf(PostgresMetadataStore)
      const records = await roundTrip(xcom)
      expectStoredAsIntended(records, 'k-env-new')
      expect(await expectStoreHasNoMarker(new FileObjectStore({ root }), 'k-env-new')).toHaveLength(3)
      expect(await expectSchemaHasNoMarker(schema)).toBe(5)
      expectFilesHaveNoMarker(root)
    } finally {
      await xcom.close()
    }
    // The same database and directory without the keys: the values do not open, and say which key they need.
    const withoutKeys = await XCom.fromEnv({ ...env, XCOM_ENCRYPTION_KEYS: '', XCOM_ENCRYPTION_INLINE: '' })
    try {
      await expect(withoutKeys.pull({ ...ID, key: 'json' })).rejects.toMatchObject({ code: 'E_CONFIG' })
      await expect(withoutKeys.pull({ ...ID, key: 'small' })).rejects.toMatchObject({ code: 'E_CONFIG' })
    } finally {
      await withoutKeys.close()
    }
  })
})
