/**
 * The same work without xcom: one table of our own through `pg` (INSERT ... ON CONFLICT, SELECT) and objects through
 * the S3 SDK (PutObject, GetObject, DeleteObject of the replaced object), so the load run can state xcom's overhead.
 */
import { randomUUID } from 'node:crypto'
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import pg from 'pg'
import { BUCKET } from './services.ts'

/** The identity columns of a raw row. */
export interface RawKey {
  dagId: string
  runId: string
  taskId: string
}

/** Creates the baseline's table in `schema` (once, before the workers start). */
export async function createRawTable(client: pg.Client, schema: string): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
  await client.query(
    `CREATE TABLE IF NOT EXISTS "${schema}".raw_xcom (dag_id text, run_id text, task_id text, data text,
     object_key text, size bigint, PRIMARY KEY (dag_id, run_id, task_id))`,
  )
}

/** Raw push and pull against PostgreSQL and S3. */
export class RawBaseline {
  readonly #pool: pg.Pool
  readonly #s3: S3Client
  readonly #table: string
  readonly #prefix: string

  constructor(postgresUrl: string, schema: string, s3Endpoint: string) {
    this.#pool = new pg.Pool({ connectionString: postgresUrl, max: 10 })
    this.#pool.on('error', () => undefined) // an idle connection dropped: the next query opens another
    this.#s3 = new S3Client({
      endpoint: s3Endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    })
    this.#table = `"${schema}".raw_xcom`
    this.#prefix = `${schema}/raw`
  }

  /** Stores a JSON value inline, or bytes as an object referenced by the row; deletes the replaced object. */
  async push(key: RawKey, value: unknown): Promise<void> {
    let data: string | null = null
    let objectKey: string | null = null
    let size: number
    if (value instanceof Uint8Array) {
      objectKey = `${this.#prefix}/${key.dagId}/${key.taskId}/${randomUUID()}`
      await this.#s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: objectKey, Body: value }))
      size = value.byteLength
    } else {
      data = JSON.stringify(value)
      size = Buffer.byteLength(data)
    }
    const { rows } = await this.#pool.query<{ old: string | null }>(
      `WITH old AS (SELECT object_key FROM ${this.#table} WHERE dag_id = $1 AND run_id = $2 AND task_id = $3 FOR UPDATE)
       INSERT INTO ${this.#table} VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (dag_id, run_id, task_id) DO UPDATE SET data = $4, object_key = $5, size = $6
       RETURNING (SELECT object_key FROM old) AS old`,
      [key.dagId, key.runId, key.taskId, data, objectKey, size],
    )
    const old = rows[0]?.old
    if (old) await this.#s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: old }))
  }

  /** The value of `key`: parsed JSON, or the object's bytes. */
  async pull(key: RawKey): Promise<unknown> {
    const { rows } = await this.#pool.query<{ data: string | null; object_key: string | null }>(
      `SELECT data, object_key FROM ${this.#table} WHERE dag_id = $1 AND run_id = $2 AND task_id = $3`,
      [key.dagId, key.runId, key.taskId],
    )
    const row = rows[0]
    if (!row) throw new Error(`no raw row for ${key.dagId}/${key.taskId}`)
    if (row.object_key === null) return JSON.parse(row.data ?? 'null')
    const object = await this.#s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: row.object_key }))
    return object.Body?.transformToByteArray()
  }

  async close(): Promise<void> {
    this.#s3.destroy()
    await this.#pool.end()
  }
}
