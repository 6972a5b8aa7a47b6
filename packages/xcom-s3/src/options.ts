import { XComError } from '@xcom/core'

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

/** The numeric options of `S3ObjectStore`, with their bounds. */
export const INTEGER_OPTIONS = {
  partSize: { min: MIN_PART_SIZE, max: MAX_PART_SIZE, param: 'part_size', unit: 'bytes (5 MiB to 5 GiB)' },
  queueSize: { min: 1, max: 64, param: 'queue_size' },
  readConcurrency: { min: 1, max: 64, param: 'read_concurrency' },
  maxSockets: { min: 1, max: 65_536, param: 'max_sockets' },
  pageSize: { min: 1, max: 1000 },
  deleteBatchSize: { min: 1, max: MAX_DELETE_BATCH },
} satisfies Record<string, IntegerSpec>

/** The name of a numeric option of `S3ObjectStore`. */
export type IntegerOption = keyof typeof INTEGER_OPTIONS

function range(spec: IntegerSpec): string {
  return `a whole number from ${spec.min} to ${spec.max}${spec.unit ? ` ${spec.unit}` : ''}`
}

/** A value as a message shows it: strings quoted and cut short, numbers as they are (`NaN`, `1.5`). */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : String(value)
}

/**
 * Checks a numeric option given in code: `fallback` when `value` is undefined.
 * @throws XComError `E_CONFIG` naming the option, the value given and the valid range.
 */
export function integerOption(name: IntegerOption, value: number | undefined, fallback: number): number {
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
