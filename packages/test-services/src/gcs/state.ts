import { randomBytes } from 'node:crypto'
import { ChunkedBytes } from './bytes.ts'
import { GcsError } from './http.ts'
import { isStringRecord, type UploadMetadata, WRITABLE_FIELDS, type WritableField } from './params.ts'
import { checkPreconditions, type Preconditions } from './preconditions.ts'

/** One object: only its live generation is kept. */
export interface StoredObject {
  bucket: string
  name: string
  /** Microseconds since the epoch, unique per commit; a string, as the JSON API sends every int64. */
  generation: string
  metageneration: number
  contentType: string
  fields: Partial<Record<WritableField, string>>
  metadata: Record<string, string>
  /** The bytes, kept as the chunks they arrived in. */
  data: ChunkedBytes
  size: number
  crc32c: string
  md5Hash: string
  timeCreated: string
  updated: string
}

/** One bucket and its objects by name. */
export interface Bucket {
  name: string
  timeCreated: string
  location: string
  storageClass: string
  labels: Record<string, string> | undefined
  objects: Map<string, StoredObject>
}

/** A resumable upload between its init POST and its final PUT. */
export interface UploadSession {
  id: string
  bucket: string
  name: string
  upload: UploadMetadata
  /** Checked at init and again at commit, since the object may change in between. */
  preconditions: Preconditions
  /** The object's size, once the client has declared it. */
  total: number | undefined
  /** The bytes persisted so far. */
  data: ChunkedBytes
  /** The object resource answered at commit: a resent final PUT gets the same answer. */
  result: Record<string, unknown> | undefined
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/

/**
 * The server's data, in memory: buckets, their objects (one live generation each) and resumable upload sessions keyed
 * by `upload_id`. Every rule about what may be stored (names, preconditions, declared hashes) is enforced here.
 */
export class GcsState {
  readonly #buckets = new Map<string, Bucket>()
  readonly #sessions = new Map<string, UploadSession>()
  #lastGeneration = 0n

  /** The bucket names, in creation order. */
  bucketNames(): Iterable<string> {
    return this.#buckets.keys()
  }

  /**
   * Creates a bucket from its resource JSON (`name`, optional `location`, `storageClass`, `labels`).
   * @throws GcsError 400 on an invalid name, 409 when it exists
   */
  createBucket(body: Record<string, unknown>): Bucket {
    const name = body.name
    if (typeof name !== 'string' || !BUCKET_NAME.test(name) || name.length > 222) {
      throw new GcsError(400, 'invalid', `Invalid bucket name: '${String(name)}'`)
    }
    if (this.#buckets.has(name)) {
      throw new GcsError(
        409,
        'conflict',
        'Your previous request to create the named bucket succeeded and you already own it.',
      )
    }
    const bucket: Bucket = {
      name,
      timeCreated: new Date().toISOString(),
      location: typeof body.location === 'string' ? body.location.toUpperCase() : 'US-CENTRAL1',
      storageClass: typeof body.storageClass === 'string' ? body.storageClass : 'STANDARD',
      labels: isStringRecord(body.labels) ? body.labels : undefined,
      objects: new Map(),
    }
    this.#buckets.set(name, bucket)
    return bucket
  }

  /** The bucket, or `undefined`. */
  findBucket(name: string): Bucket | undefined {
    return this.#buckets.get(name)
  }

  /** The bucket. @throws GcsError 404 when it does not exist */
  bucket(name: string): Bucket {
    const bucket = this.#buckets.get(name)
    if (!bucket) throw new GcsError(404, 'notFound', 'The specified bucket does not exist.')
    return bucket
  }

  /** Deletes an empty bucket. @throws GcsError 409 when it still holds objects */
  deleteBucket(bucket: Bucket): void {
    if (bucket.objects.size > 0)
      throw new GcsError(409, 'conflict', 'The bucket you tried to delete is not empty.')
    this.#buckets.delete(bucket.name)
  }

  /** The live object, or `undefined` (also when the bucket does not exist). */
  findObject(bucket: string, name: string): StoredObject | undefined {
    return this.#buckets.get(bucket)?.objects.get(name)
  }

  /**
   * The live object; a `generation` other than the live one is 404 because older generations are not kept.
   * @throws GcsError 404
   */
  object(bucket: Bucket, name: string, generation: string | null): StoredObject {
    const object = bucket.objects.get(name)
    if (!object || (generation !== null && generation !== object.generation)) {
      throw new GcsError(404, 'notFound', `No such object: ${bucket.name}/${name}`)
    }
    return object
  }

  /**
   * Stores a finished upload as the new live generation, after its preconditions and declared hashes hold.
   * @throws GcsError 412 when a precondition fails, 400 when a declared `crc32c` or `md5Hash` differs
   */
  commitObject(
    bucket: Bucket,
    name: string,
    data: ChunkedBytes,
    upload: UploadMetadata,
    conditions: Preconditions,
  ): StoredObject {
    checkPreconditions(conditions, bucket.objects.get(name))
    const { crc32c, md5Hash } = data.hashes()
    if (upload.crc32c !== undefined && upload.crc32c !== crc32c) {
      throw new GcsError(
        400,
        'invalid',
        `Provided CRC32C "${upload.crc32c}" doesn't match calculated "${crc32c}".`,
      )
    }
    if (upload.md5Hash !== undefined && upload.md5Hash !== md5Hash) {
      throw new GcsError(
        400,
        'invalid',
        `Provided MD5 hash "${upload.md5Hash}" doesn't match calculated "${md5Hash}".`,
      )
    }
    const now = new Date().toISOString()
    const object: StoredObject = {
      bucket: bucket.name,
      name,
      generation: this.#nextGeneration(),
      metageneration: 1,
      contentType: upload.contentType || 'application/octet-stream',
      fields: upload.fields,
      metadata: upload.metadata,
      data,
      size: data.length,
      crc32c,
      md5Hash,
      timeCreated: now,
      updated: now,
    }
    bucket.objects.set(name, object)
    return object
  }

  /**
   * Applies a PATCH: listed fields are replaced (null clears), `metadata` is merged (null values delete keys), and the
   * metageneration is bumped.
   * @throws GcsError 400 on a value of the wrong type; nothing is changed then
   */
  patchObject(object: StoredObject, patch: Record<string, unknown>): void {
    const fields = { ...object.fields }
    for (const field of WRITABLE_FIELDS) {
      if (!(field in patch)) continue
      const value = patch[field]
      if (value === null) delete fields[field]
      else if (typeof value === 'string') fields[field] = value
      else throw new GcsError(400, 'invalid', `Invalid value for ${field}: expected a string or null.`)
    }
    let metadata = object.metadata
    if ('metadata' in patch) {
      const changes = patch.metadata
      if (changes === null) metadata = {}
      else if (typeof changes === 'object' && !Array.isArray(changes)) {
        metadata = { ...object.metadata }
        for (const [key, value] of Object.entries(changes as Record<string, unknown>)) {
          if (value === null) delete metadata[key]
          else metadata[key] = String(value)
        }
      } else throw new GcsError(400, 'invalid', 'Invalid value for metadata: expected an object or null.')
    }
    if ('contentType' in patch) {
      object.contentType =
        typeof patch.contentType === 'string' ? patch.contentType : 'application/octet-stream'
    }
    object.fields = fields
    object.metadata = metadata
    object.metageneration++
    object.updated = new Date().toISOString()
  }

  /** Deletes an object. Returns whether it existed. */
  deleteObject(bucket: string, name: string): boolean {
    return this.#buckets.get(bucket)?.objects.delete(name) ?? false
  }

  /** Opens a resumable upload session with a fresh unguessable id. */
  openSession(
    bucket: Bucket,
    name: string,
    upload: UploadMetadata,
    preconditions: Preconditions,
    total: number | undefined,
  ): UploadSession {
    const id = randomBytes(16).toString('hex')
    const session: UploadSession = {
      id,
      bucket: bucket.name,
      name,
      upload,
      preconditions,
      total,
      data: new ChunkedBytes(),
      result: undefined,
    }
    this.#sessions.set(id, session)
    return session
  }

  /** The session `id` of `bucket`. @throws GcsError 404 when it does not exist or belongs to another bucket */
  session(bucket: Bucket, id: string): UploadSession {
    const session = this.#sessions.get(id)
    if (!session || session.bucket !== bucket.name) {
      throw new GcsError(404, 'notFound', `No such upload session: ${id}`)
    }
    return session
  }

  /** Forgets a session (cancelled, or failed at commit). */
  closeSession(id: string): void {
    this.#sessions.delete(id)
  }

  /** Drops every bucket, object and session. */
  clear(): void {
    this.#buckets.clear()
    this.#sessions.clear()
  }

  /** A generation above every earlier one, even for commits within the same microsecond. */
  #nextGeneration(): string {
    const now = BigInt(Date.now()) * 1000n
    this.#lastGeneration = now > this.#lastGeneration ? now : this.#lastGeneration + 1n
    return this.#lastGeneration.toString()
  }
}
