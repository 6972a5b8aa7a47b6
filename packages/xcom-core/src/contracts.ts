import type { XComError } from './errors.ts'

/** Raw bytes. */
export type Bytes = Uint8Array

/** Anything an {@link ObjectStore} can upload: bytes, an async iterable of chunks, or a web stream. */
export type ByteSource = Bytes | AsyncIterable<Bytes> | ReadableStream<Bytes>

/** What a caller gives to name an XCom: `mapIndex` defaults to -1 (not mapped), `key` to `return_value`. */
export interface XComIdentity {
  dagId: string
  runId: string
  taskId: string
  /** -1 means "not mapped". @default -1 */
  mapIndex?: number
  /** @default "return_value" */
  key?: string
}

/** A fully resolved, validated identity: every field set. */
export interface XComKey {
  dagId: string
  runId: string
  taskId: string
  mapIndex: number
  key: string
}

/**
 * What the backend hooks receive: the identity of the XCom and the id of the record being written
 * (unique per push; object storage uses it so two pushes never share an object).
 */
export interface XComContext extends XComKey {
  /** Unique id of the record this value belongs to. */
  recordId: string
  /**
   * The metadata database the record lives in. The facade always sets it; object storage records it in every object
   * and claims its prefix for it, so two databases can never share (and sweep) one prefix.
   */
  database?: DatabaseIdentity
}

/** Who a metadata database is: a stable id created with the database, and a description for messages. */
export interface DatabaseIdentity {
  /** Random id stored in the database when it is created; never changes. 1-64 characters of `[A-Za-z0-9_-]`. */
  id: string
  /** Where the database is, without secrets, e.g. `sqlite:///srv/xcom.db` or `postgres://xcom@db:5432/airflow`. */
  description: string
}

/** A reference to a value held outside the metadata database. Its fields beyond `uri` belong to the backend. */
export interface XComReference {
  /** Where the value lives, without secrets, e.g. `s3://conn@bucket/xcom/dag/run/task/-1/return_value/ID.json.gz`. */
  uri: string
  /** The backend's own fields: sizes, codec, checksum, object key... Must be JSON-serializable. */
  [field: string]: unknown
}

/**
 * What the metadata database holds for one XCom. The `kind` is set by the backend only: a user value, whatever its
 * shape, is always `inline` data and can never be mistaken for a reference.
 */
export type StoredValue =
  | {
      /**
       * A row the metadata store could not decode (damaged, or not written by xcom): set by metadata stores only.
       * Pulling it fails with `E_CORRUPT`; listing shows it; clearing removes it; it owns nothing a purge could delete.
       */
      kind: 'malformed'
      /** What is wrong with it, for messages. */
      reason: string
      /** Size the row claims, or 0. */
      size: number
    }
  | {
      kind: 'inline'
      /** The serialized value (JSON text from the {@link SerializerRegistry}, or the backend's own format). */
      data: string
      /** Size of `data` in UTF-8 bytes. */
      size: number
    }
  | {
      kind: 'reference'
      ref: XComReference
      /** Size of the value in bytes before compression. */
      size: number
    }

/** One row of the metadata database. */
export interface XComRecord extends XComKey {
  /** Unique id of this record (a new one per push). */
  id: string
  value: StoredValue
  createdAt: Date
  /** When set, the value may be removed by `purgeExpired()` after this time and is no longer pulled. */
  expiresAt?: Date | undefined
}

/** Which XComs a query selects. Every field narrows the selection; arrays mean "any of". */
export interface XComQuery {
  dagId?: string
  runId?: string
  taskId?: string | readonly string[]
  mapIndex?: number | readonly number[]
  key?: string | readonly string[]
  /** Only records whose `expiresAt` is before this time. */
  expiredBefore?: Date
  /** Only records created before this time. */
  createdBefore?: Date
}

/** A reference whose object must still be deleted: written in the same transaction as the row change. */
export interface PendingPurge {
  /** The id of the record whose value must be purged. */
  id: string
  record: XComRecord
  queuedAt: Date
}

/** One page of records. */
export interface RecordPage {
  records: XComRecord[]
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: string | undefined
}

/**
 * The metadata database. Implementations must make `put` and `delete` atomic with the queuing of the purges they
 * cause, so that a crash never leaves a row pointing at a deleted object, nor an object nobody will delete.
 */
export interface MetadataStore {
  /** Insert or replace the record with the same identity. Returns the replaced record, whose purge is queued (if it holds a reference) in the same transaction. */
  put(record: XComRecord): Promise<XComRecord | undefined>
  /** The record with this identity, or undefined. */
  get(id: XComKey): Promise<XComRecord | undefined>
  /** Every record the query selects, in one statement, in the stable order (dagId, runId, taskId, mapIndex, key). */
  getMany(query: XComQuery): Promise<XComRecord[]>
  /**
   * Replace the row of the record's identity only while it is still the record `expectedId` (compare-and-swap, for
   * rewrites such as key rotation that must not undo a concurrent push). Returns the replaced record, its reference
   * queued for purge in the same transaction; undefined, writing nothing, when the row is gone or is another record.
   */
  replaceIf?(record: XComRecord, expectedId: string): Promise<XComRecord | undefined>
  /** Delete what the query selects and return it; deleted references are queued for purge in the same transaction. */
  delete(query: XComQuery): Promise<XComRecord[]>
  /** A page of records in the stable order. `after` is the `next` of the previous page. */
  list(query: XComQuery, page?: { limit: number; after?: string | undefined }): Promise<RecordPage>
  /** Up to `limit` purges still to do, oldest first. */
  pendingPurges(limit: number): Promise<PendingPurge[]>
  /** Mark purges as done (their objects are gone). Unknown ids are ignored. */
  resolvePurges(ids: readonly string[]): Promise<void>
  /**
   * The database's own identity, created (once, atomically) the first time any process asks, then stable. Object
   * storage writes the id into every object and into the claim of its prefix.
   */
  identity(): Promise<DatabaseIdentity>
  /** Release connections and handles. */
  close(): Promise<void>
}

/** Metadata and facts about one stored object. */
export interface ObjectInfo {
  /** The object's key, relative to the store's prefix (not to be confused with an XCom's `key`). */
  objectKey: string
  /** Size in bytes as stored. */
  size: number
  lastModified: Date
  /** User metadata written with the object (keys lowercase). */
  metadata: Record<string, string>
}

/** A stored object being read: its info and its body, read once either as a stream or as bytes. */
export interface ObjectBody extends ObjectInfo {
  stream(): ReadableStream<Bytes>
  bytes(): Promise<Bytes>
  /**
   * Optional: like `bytes()`, showing every part of the result to `observe`, in order, as soon as it has landed and
   * while the next part is read, so a reader can hash while it reads with no copy (`FileObjectStore` has it). An error
   * `observe` throws ends the read. Readers fall back to `stream()` when a body lacks it.
   */
  bytesObserved?(observe: (part: Bytes) => void): Promise<Bytes>
}

/** Options of {@link ObjectStore.put}. */
export interface PutOptions {
  /** User metadata stored with the object. Keys are lowercase ASCII; values are ASCII. */
  metadata?: Record<string, string>
  contentType?: string
  /** The body size when known in advance (lets adapters pick a single request). */
  size?: number
  /** Fail with `E_PRECONDITION_FAILED` when the key exists (only if `capabilities.conditionalCreate`). */
  ifNoneMatch?: boolean
  signal?: AbortSignal
  onProgress?: (bytesSent: number) => void
}

/** Options of {@link ObjectStore.get}. */
export interface GetOptions {
  /** Read only bytes `start` to `end` inclusive (`end` omitted: to the end). */
  range?: { start: number; end?: number }
  signal?: AbortSignal
}

/**
 * A bucket-like store of objects. Keys are relative to the store's own prefix and '/'-separated; adapters encode
 * nothing and trust keys built by the backend. A missing key on `get` is an `E_NOT_FOUND` {@link XComError}.
 */
export interface ObjectStore {
  /** Where the store points, e.g. `s3://my_conn@bucket/xcom`, without secrets; used in messages and references. */
  readonly url: string
  readonly capabilities: {
    rangeReads: boolean
    conditionalCreate: boolean
    /** Largest object the store accepts, in bytes. */
    maxObjectSize?: number
    /**
     * `put` sends a Uint8Array body straight from its memory (cut into parts or blocks), but has to copy a stream's
     * chunks into parts: a caller holding a whole value should hand it over whole. `@xcom/objectstore` then hashes the
     * value before the upload instead of while it streams. @default false
     */
    wholeBufferPut?: boolean
  }
  put(objectKey: string, body: ByteSource, options?: PutOptions): Promise<{ size: number }>
  get(objectKey: string, options?: GetOptions): Promise<ObjectBody>
  head(objectKey: string): Promise<ObjectInfo | undefined>
  /** Delete keys in batches. Missing keys are not failures. */
  deleteMany(objectKeys: readonly string[]): Promise<{ failed: { objectKey: string; error: XComError }[] }>
  /**
   * Every object whose key starts with `prefix`, paginating internally. `metadata` may be empty when the store's
   * listing does not return it (S3): call `head` for it.
   */
  list(prefix: string): AsyncIterable<ObjectInfo>
  /**
   * Removes what interrupted writes left behind and the store can find (temporary files, unfinished multipart
   * uploads, uncommitted blocks) that was started before `startedBefore`. `gc()` calls it.
   */
  removeIncomplete?(startedBefore: Date): Promise<IncompleteReport>
  /**
   * Optional, for stores that keep every object in several places: the copies in reading order. A reader whose copy
   * is missing or fails its checksum may read the next one (`@xcom/objectstore`'s backend does).
   */
  readonly replicas?: readonly ObjectStore[]
  close?(): Promise<void>
}

/** What {@link ObjectStore.removeIncomplete} did. */
export interface IncompleteReport {
  /** Temporary files, uploads or uncommitted blobs removed. */
  removed: number
  /** What could not be removed (URIs or upload ids), to retry at the next `gc()`. */
  failed: string[]
}

/**
 * An object storage URL `scheme://[conn_id@]bucket/prefix`, split with Python's `urlsplit` rules as Airflow does:
 * what `@xcom/objectstore` hands to an adapter's {@link ObjectStoreFactory}.
 */
export interface ObjectStorageUrl {
  /** The URL as given. */
  url: string
  /** The storage named, aliases resolved (`s3a` -> `s3`, `gcs` -> `gs`, `az`/`abfss`/`adl` -> `abfs`, `local` -> `file`). */
  scheme: string
  /** The scheme as written, lowercased. */
  protocol: string
  /** The connection id: the raw text before the last `@` of the authority (not decoded); undefined without one. */
  connId: string | undefined
  /** The bucket (container) name: the authority after the connection id; for `file://`, the host part if any. */
  bucket: string
  /** The percent-decoded path after the bucket, with its leading `/` (for `file://`, the directory). */
  path: string
  /** The key prefix inside the bucket: `path` without leading and trailing `/`; `""` for none. */
  prefix: string
  /** Query parameters (last duplicate wins), for adapter options. */
  options: Record<string, string>
}

/**
 * Creates the store of an adapter's scheme. Adapter packages (`@xcom/s3`, `@xcom/gcs`, `@xcom/azure`) export one
 * named `objectStoreFactory`; `connection` is the resolved connection when the URL names one.
 */
export type ObjectStoreFactory = (
  url: ObjectStorageUrl,
  connection: Connection | undefined,
) => ObjectStore | Promise<ObjectStore>

/**
 * Opens the metadata store of a database URL (`sqlite://...`, `postgres://...`). Adapter packages (`@xcom/sqlite`,
 * `@xcom/postgres`) export one named `metadataStoreFactory`; `XCom.fromEnv` imports it by the URL's scheme.
 */
export type MetadataStoreFactory = (url: string) => Promise<MetadataStore>

/** Options of decompression. */
export interface DecompressOptions {
  /** Fail with `E_TOO_LARGE` once the output exceeds this many bytes. */
  maxSize?: number
  /** The object being decompressed, named in errors (`XComError.uri`). */
  uri?: string
}

/** A compression format. Whole-buffer and streaming forms produce the same bytes. */
export interface Codec {
  /** e.g. "gzip". */
  readonly name: string
  /** e.g. ".gz"; empty for no compression. */
  readonly suffix: string
  compress(data: Bytes): Promise<Bytes>
  /** Corrupt or truncated input fails with `E_CORRUPT`; output over `maxSize` with `E_TOO_LARGE`. */
  decompress(data: Bytes, options?: DecompressOptions): Promise<Bytes>
  compressStream(): TransformStream<Bytes, Bytes>
  decompressStream(options?: DecompressOptions): TransformStream<Bytes, Bytes>
}

/**
 * Finds the codec of stored bytes, for the object storage backend: by the name a reference records, by an object key's
 * suffix, or by magic bytes. `@xcom/compression` exports one (`codecs`); the backend loads it by name when none is given.
 */
export interface CodecResolver {
  /** The codec called `name` (`gzip`, `zstd`...). @throws XComError `E_UNKNOWN_CODEC` naming the valid names. */
  byName(name: string): Codec | Promise<Codec>
  /** The codec whose suffix ends `key` (`.gz`, `.zst`...), if any. */
  bySuffix(key: string): Codec | undefined
  /** The codec whose magic bytes start `head` (its first 16 bytes are enough), if any. */
  byMagic(head: Bytes): Codec | undefined
}

/**
 * What an encrypted value is bound to: the XCom and the record it was written for. Encryption authenticates it as
 * associated data, so an object copied or moved to another XCom (or another record of the same XCom) fails to decrypt.
 */
export interface EncryptionBinding extends XComKey {
  /** The id of the record the value was written for. */
  recordId: string
}

/** A key of an {@link EncryptionKeyProvider}: the id recorded with every value it encrypts, and its secret bytes. */
export interface EncryptionKey {
  /** 1-64 characters of `[A-Za-z0-9._-]`; stored in every encrypted value's header, never secret. */
  readonly id: string
  /** The master key: 32 random bytes. */
  readonly material: Uint8Array
}

/**
 * Where encryption keys come from: `XCOM_ENCRYPTION_KEYS`, a module of the user's, or a key management service. The
 * active key encrypts new values; every other key it knows only decrypts (key rotation).
 */
export interface EncryptionKeyProvider {
  /** The key new values are encrypted with. */
  activeKey(): Promise<EncryptionKey>
  /** The key called `id`, or undefined when the provider does not know it. */
  key(id: string): Promise<EncryptionKey | undefined>
}

/** Options of decryption. */
export interface DecryptOptions {
  /** The object or XCom being decrypted, named in errors (`XComError.uri`). */
  uri?: string
}

/**
 * Authenticated encryption of stored values, a stage of its own after compression: unlike a codec it is never skipped
 * for a value. Whole-buffer and streaming forms produce the same bytes for the same random parameters, and each reads
 * what the other wrote. A value whose key id the provider does not know fails with `E_CONFIG` naming the key id; a
 * wrong key, tampered, truncated, reordered or extended bytes, or bytes bound to another XCom fail with `E_CORRUPT`.
 */
export interface Encryption {
  /** The format written, e.g. `aes256gcm-hkdf-stream-v1`; references record it. */
  readonly name: string
  /** The id of the key new values are encrypted with. */
  activeKeyId(): Promise<string>
  /** The size of the encrypted form of `size` bytes (for stores that want the length before the upload). */
  encryptedSize(size: number): number
  /** The key id named by the header of encrypted bytes; `head` needs only their first 256 bytes. @throws E_CORRUPT */
  keyIdOf(head: Bytes): string
  encrypt(data: Bytes, binding: EncryptionBinding): Promise<Bytes>
  decrypt(data: Bytes, binding: EncryptionBinding, options?: DecryptOptions): Promise<Bytes>
  /** Encrypts a stream under the active key; memory stays bounded by one segment. */
  encryptStream(binding: EncryptionBinding): Promise<TransformStream<Bytes, Bytes>>
  /** Decrypts a stream, authenticating each segment before it is passed on; the end is authenticated too. */
  decryptStream(binding: EncryptionBinding, options?: DecryptOptions): TransformStream<Bytes, Bytes>
}

/** A value as the backend hooks see it when pushing: the user value. */
export interface PushOptions {
  /** The value may be removed by `purgeExpired()` after this time and is no longer pulled. */
  expiresAt?: Date
}

/** What a backend's garbage collector can see and do. */
export interface SweepContext {
  /**
   * Every record the metadata database still holds, and those whose purge is pending (not yet garbage either). A
   * backend derives the objects each one owns from its identity and record id.
   */
  referenced(): AsyncIterable<XComRecord>
  /** Objects younger than this are never collected: pushes may be in flight. */
  graceMs: number
  /** The database being collected for: only objects that name it may be deleted. */
  database: DatabaseIdentity
  /** Count what would be deleted (`deleted` in the report) and delete nothing. */
  dryRun?: boolean
  /** Called with the number of objects scanned so far, as the listing advances. */
  onProgress?: (scanned: number) => void
}

/** What a sweep did. */
export interface SweepReport {
  /** Objects examined. */
  scanned: number
  /** Objects deleted because nothing references them (in a dry run: that would be deleted). */
  deleted: number
  /** Keys or URIs that could not be deleted. */
  failed: string[]
  /** Objects left alone because they name another database (or none): never deleted by this database's sweep. */
  foreign?: number
  /** Leftovers of interrupted writes removed (see {@link ObjectStore.removeIncomplete}); not looked for in a dry run. */
  incomplete?: number
}

/** One preflight check of `XCom.check()` (and `xcom doctor`). */
export interface CheckResult {
  /** What was checked, e.g. `metadata database` or `object store s3://conn@bucket/xcom: write`. */
  name: string
  ok: boolean
  /** What was found (on failure, the error's code and message). */
  detail: string
  /** What to do about it, when it failed. */
  fix?: string
  /** The {@link XComError} code of the failure, when there is one. */
  code?: string
}

/** What {@link XComBackend.check} receives. */
export interface CheckContext {
  /** The metadata database the backend serves; absent when it could not be opened (checks that need it are skipped). */
  database?: DatabaseIdentity | undefined
}

/**
 * The hooks a storage backend implements (Airflow's BaseXCom hooks). `BaseXComBackend` keeps everything inline;
 * subclass it or `ObjectStoreXComBackend` to change any hook.
 */
export interface XComBackend {
  /** Turn a user value into what the metadata database stores (inline data, or a reference after uploading). */
  serializeValue(value: unknown, ctx: XComContext): Promise<StoredValue>
  /** Turn a stored value back into the user value (downloading and verifying referenced objects). */
  deserializeValue(stored: StoredValue, ctx: XComContext): Promise<unknown>
  /** Delete whatever the stored value refers to. Idempotent: purging twice, or purging what is gone, succeeds. */
  purge(stored: StoredValue, ctx: XComContext): Promise<void>
  /** What a UI or `xcom ls` shows, without downloading anything. */
  display(stored: StoredValue): string
  /**
   * Key rotation, for backends that encrypt: the id of the key new values are encrypted under. Asked first by
   * `XCom.rotateKeys`. @throws XComError `E_CONFIG` when the backend has no encryption configured.
   */
  activeKeyId?(): Promise<string>
  /**
   * Key rotation, for backends that encrypt: true when `stored` is not encrypted under the active key (an older key,
   * or no encryption where the backend would now encrypt). Reads only what the row holds.
   */
  needsReencryption?(stored: StoredValue, ctx: XComContext): Promise<boolean>
  /**
   * Key rotation: `stored` (of record `from`) re-encrypted under the active key as the value of the new record `to`,
   * streamed (a new object for a reference, whatever the value's size). The caller switches the row to it and purges
   * the old value, or purges the new one when the row changed meanwhile.
   */
  reencrypt?(stored: StoredValue, from: XComContext, to: XComContext): Promise<StoredValue>
  /** Stream a stored value's bytes without buffering, when the backend can. */
  openStream?(stored: StoredValue, ctx: XComContext): Promise<ReadableStream<Bytes>>
  /** Delete objects that no row references and that are older than `graceMs`. */
  sweep?(ctx: SweepContext): Promise<SweepReport>
  /**
   * Preflight: proves the backend's storage works (exists, accepts writes, reads and deletes) without touching any
   * XCom. Reports every problem as a failed {@link CheckResult} with a fix; throws only for misuse.
   */
  check?(ctx: CheckContext): Promise<CheckResult[]>
  /** Release clients and handles. */
  close?(): Promise<void>
}

/** A connection as Airflow models it, parsed from a URI or JSON. */
export interface Connection {
  /** The connection id it was looked up by. */
  id: string
  /** Lowercased scheme (`aws`, `google_cloud_platform`, `wasb`, `s3`, ...). */
  connType: string
  host?: string | undefined
  port?: number | undefined
  login?: string | undefined
  password?: string | undefined
  schema?: string | undefined
  description?: string | undefined
  /** Extra settings (Airflow's `extra`), or the query parameters of a URI. */
  extra: Record<string, unknown>
}

/** Looks connections up by id. */
export interface ConnectionResolver {
  /** The connection with this id, or undefined when none is configured. Malformed values throw `E_CONFIG`. */
  get(id: string): Promise<Connection | undefined>
}
