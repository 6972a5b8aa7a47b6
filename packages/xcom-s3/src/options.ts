import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { XComError } from '@xcom/core'
import type { S3Credentials } from './client.ts'

/** Options of `S3ObjectStore`. */
export interface S3ObjectStoreOptions {
  /** The bucket holding the objects (it must exist). */
  bucket: string
  /** Object key prefix inside the bucket, without leading or trailing `/`. @default "" (the bucket root) */
  prefix?: string
  /**
   * A ready client. When given, `region`, `endpoint`, `forcePathStyle`, `credentials`, `clientConfig`, `retryOptions`
   * and `maxSockets` are ignored, its socket pool is left as it is (size it for the load: see `maxSockets`), and
   * `close()` leaves it open (it belongs to the caller).
   */
  client?: S3Client
  /** The AWS region. @default the SDK's resolution (AWS_REGION, profile), or `"us-east-1"` when `endpoint` is set */
  region?: string
  /** An S3-compatible endpoint, e.g. `http://127.0.0.1:4569` (MinIO, s3rver, Ceph...). @default AWS */
  endpoint?: string
  /** Address buckets as `endpoint/bucket/objectKey` instead of `bucket.endpoint/objectKey`. @default false */
  forcePathStyle?: boolean
  /** Static credentials or a provider. @default the SDK's default credential chain */
  credentials?: S3Credentials
  /**
   * More settings for the client this store creates (timeouts, profile, request handler). A request handler given as
   * an instance (or agents given as instances) is used as is, without `maxSockets`. @default {}
   */
  clientConfig?: S3ClientConfig
  /**
   * The SDK's retry settings for the client this store creates (`maxAttempts`, `retryMode`, `retryStrategy`), over
   * any in `clientConfig`. @default the SDK's (3 attempts, standard mode)
   */
  retryOptions?: Pick<S3ClientConfig, 'maxAttempts' | 'retryMode' | 'retryStrategy'>
  /** The connection id shown in `url` (`s3://<connectionId>@bucket/prefix`); informational only. @default none */
  connectionId?: string
  /**
   * Bytes per multipart part; bodies smaller than this go up in one PutObject. At least 5 MiB. Parts grow for a known
   * size over 10,000 parts; a stream of unknown size can hold at most 10,000 parts (156 GiB at 16 MiB). @default 16 MiB
   */
  partSize?: number
  /** Parts uploaded at once; an upload buffers at most `partSize * queueSize` bytes. @default 4 */
  queueSize?: number
  /**
   * Whether the endpoint honours `If-None-Match: *` on writes (AWS S3 does since 2024). Set `false` for services that
   * ignore it (s3rver, older MinIO/Ceph): `put(..., { ifNoneMatch: true })` then fails with `E_CONFIG` rather than
   * silently overwriting. @default true
   */
  conditionalCreate?: boolean
  /**
   * Ranged GETs in flight when reading an object larger than `partSize` without a range; each buffers one part, so a
   * read holds at most `partSize * readConcurrency` bytes. 1 reads every object with a single GET. @default 4
   */
  readConcurrency?: number
  /**
   * Sockets the client this store creates may open to the endpoint (each for http and https). One upload keeps
   * `queueSize` requests in flight and one read of a large object `readConcurrency`; requests beyond the pool wait for
   * a socket, and the SDK warns "socket usage at capacity" when many wait for long. Ignored with `client`, or with a
   * `clientConfig.requestHandler` instance or agent instances. @default 32 * max(queueSize, readConcurrency), 128 with
   * the defaults: 32 uploads or large reads at full speed at once (the SDK's own default is 50)
   */
  maxSockets?: number
  /** Object keys per ListObjectsV2 (and ListMultipartUploads) page (1-1000). @default 1000 */
  pageSize?: number
  /** Object keys per DeleteObjects request (1-1000). @default 1000 */
  deleteBatchSize?: number
  /**
   * Whether `list()` fills each object's `metadata` with a HeadObject per object. ListObjectsV2 returns no user
   * metadata, so by default `metadata` is `{}` in listings (the `ObjectStore` contract allows it); `head()` and
   * `get()` always return it. @default false
   */
  listMetadata?: boolean
}

/** The checked numeric and yes/no settings of a store, defaults applied. */
export interface StoreSettings {
  partSize: number
  queueSize: number
  readConcurrency: number
  pageSize: number
  deleteBatchSize: number
  maxSockets: number
  conditionalCreate: boolean
  listMetadata: boolean
}

const MiB = 1024 * 1024

/** S3's smallest multipart part (except the last one). */
export const MIN_PART_SIZE = 5 * MiB
/** S3's largest multipart part. */
const MAX_PART_SIZE = 5 * 1024 * MiB
/** The most keys one DeleteObjects request may carry. */
export const MAX_DELETE_BATCH = 1000
/** The most parts one multipart upload may have. */
export const MAX_PARTS = 10_000
/** S3's largest object (5 TiB). */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4
/**
 * Uploads or downloads the socket pool of a created client serves at full part concurrency: the pool holds this many
 * times the parts one operation keeps in flight.
 */
export const CONCURRENT_OPERATIONS = 32

/** Bounds of one numeric option, the URL parameter that sets it (if any) and its unit, for messages. */
interface IntegerSpec {
  min: number
  max: number
  param?: string
  unit?: string
}

/** The numeric options of {@link S3ObjectStoreOptions}, with their bounds. */
export const INTEGER_OPTIONS = {
  partSize: { min: MIN_PART_SIZE, max: MAX_PART_SIZE, param: 'part_size', unit: 'bytes (5 MiB to 5 GiB)' },
  queueSize: { min: 1, max: 64, param: 'queue_size' },
  readConcurrency: { min: 1, max: 64, param: 'read_concurrency' },
  maxSockets: { min: 1, max: 65_536, param: 'max_sockets' },
  pageSize: { min: 1, max: 1000 },
  deleteBatchSize: { min: 1, max: MAX_DELETE_BATCH },
} satisfies Record<string, IntegerSpec>

/** The name of a numeric option of {@link S3ObjectStoreOptions}. */
export type IntegerOption = keyof typeof INTEGER_OPTIONS

function range(spec: IntegerSpec): string {
  return `a whole number from ${spec.min} to ${spec.max}${spec.unit ? ` ${spec.unit}` : ''}`
}

/** A value as a message shows it: strings quoted and cut short, numbers as they are (`NaN`, `1.5`). */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : String(value)
}

/**
 * The settings of `options`, each checked, defaults applied.
 * @throws XComError `E_CONFIG` naming the first option out of range, the value given and the valid range.
 */
export function storeSettings(options: S3ObjectStoreOptions): StoreSettings {
  const partSize = integerOption('partSize', options.partSize, 16 * MiB)
  const queueSize = integerOption('queueSize', options.queueSize, 4)
  const readConcurrency = integerOption('readConcurrency', options.readConcurrency, 4)
  const pageSize = integerOption('pageSize', options.pageSize, 1000)
  const deleteBatchSize = integerOption('deleteBatchSize', options.deleteBatchSize, MAX_DELETE_BATCH)
  return {
    partSize,
    queueSize,
    readConcurrency,
    pageSize,
    deleteBatchSize,
    maxSockets: integerOption(
      'maxSockets',
      options.maxSockets,
      CONCURRENT_OPERATIONS * Math.max(queueSize, readConcurrency),
    ),
    conditionalCreate: options.conditionalCreate ?? true,
    listMetadata: options.listMetadata ?? false,
  }
}

/**
 * Checks a numeric option given in code: `fallback` when `value` is undefined.
 * @throws XComError `E_CONFIG` naming the option, the value given and the valid range.
 */
function integerOption(name: IntegerOption, value: number | undefined, fallback: number): number {
  const spec: IntegerSpec = INTEGER_OPTIONS[name]
  const number = value ?? fallback
  if (!Number.isSafeInteger(number) || number < spec.min || number > spec.max) {
    throw new XComError(
      'E_CONFIG',
      `S3ObjectStore option ${name} must be ${range(spec)}; got ${shown(value)}.`,
    )
  }
  return number
}

/**
 * Parses the text of a numeric URL parameter (`part_size=16777216`): decimal digits only, within the option's bounds.
 * @throws XComError `E_CONFIG` naming the parameter, the text given and the valid range.
 */
export function integerParam(name: IntegerOption, text: string): number {
  const spec: IntegerSpec = INTEGER_OPTIONS[name]
  const number = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(number) || number < spec.min || number > spec.max) {
    throw new XComError(
      'E_CONFIG',
      `The s3:// URL parameter ${spec.param ?? name} must be ${range(spec)}; got ${shown(text)}.`,
    )
  }
  return number
}

/**
 * Parses the text of a yes/no URL parameter: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, any case.
 * @throws XComError `E_CONFIG` naming the parameter, the text given and the accepted words.
 */
export function booleanParam(param: string, text: string): boolean {
  if (/^\s*(true|1|yes|on)\s*$/i.test(text)) return true
  if (/^\s*(false|0|no|off)\s*$/i.test(text)) return false
  throw new XComError(
    'E_CONFIG',
    `The s3:// URL parameter ${param} must be true or false (also 1/0, yes/no, on/off); got ${shown(text)}.`,
  )
}

/**
 * Checks the text of a URL parameter naming an endpoint: an http:// or https:// URL.
 * @throws XComError `E_CONFIG` naming the parameter and saying what is expected (the text is not repeated: an
 * endpoint may carry user:password).
 */
export function endpointParam(param: string, text: string): string {
  if (!/^https?:\/\/[^/]/i.test(text)) {
    throw new XComError(
      'E_CONFIG',
      `The s3:// URL parameter ${param} must be an http:// or https:// URL (percent-encoded inside the URL), e.g. ${param}=http%3A%2F%2F127.0.0.1%3A9000.`,
    )
  }
  return text
}

/**
 * Checks the text of a URL parameter that must not be empty (`region`).
 * @throws XComError `E_CONFIG` naming the parameter.
 */
export function textParam(param: string, text: string, example: string): string {
  if (text.trim() === '') {
    throw new XComError(
      'E_CONFIG',
      `The s3:// URL parameter ${param} is empty: give a value, e.g. ${param}=${example}.`,
    )
  }
  return text
}
