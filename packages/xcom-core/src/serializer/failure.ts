import { XComError, type XComErrorCode } from '../errors.js'

/**
 * Internal: a serialization failure on its way up the walk. Each container frame it passes adds the segment that
 * led to its child, so the fast path keeps no path bookkeeping at all.
 */
export class Failure {
  /** Path segments, innermost first. */
  readonly segments: string[] = []

  constructor(
    readonly code: XComErrorCode,
    readonly reason: string,
    readonly cause?: unknown,
    /** Frames at this container level or deeper add no segment (used to cut a circular path at its repeat). */
    readonly keepBelow = Number.POSITIVE_INFINITY,
  ) {}
}

/** Throws a {@link Failure}. */
export function fail(code: XComErrorCode, reason: string, cause?: unknown): never {
  throw new Failure(code, reason, cause)
}

/** Adds `segment` to a {@link Failure} passing through the container frame at `level`, and returns the error. */
export function atSegment(error: unknown, level: number, segment: string): unknown {
  if (error instanceof Failure && level < error.keepBelow) error.segments.push(segment)
  return error
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** The path segment of an object key: `.name` or `["odd key"]`. */
export function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

/** Short, safe description of a value for messages (never its contents beyond a short primitive). */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? 'a long string' : JSON.stringify(value)
    case 'number':
    case 'boolean':
      return String(value)
    case 'object':
      return 'an object'
    default:
      return `a ${typeof value}`
  }
}

/** Converts whatever a walk threw into the {@link XComError} the public API throws. */
export function toXComError(error: unknown, action: 'serialize' | 'deserialize'): XComError {
  if (error instanceof Failure) {
    const path = `value${error.segments.reverse().join('')}`
    return new XComError(error.code, `Cannot ${action} ${path}: ${error.reason}`, { path, cause: error.cause })
  }
  if (XComError.is(error)) return error
  if (error instanceof RangeError) {
    return new XComError(
      'E_TOO_LARGE',
      `Cannot ${action} value: it is nested too deeply for the JavaScript stack. Lower the maxDepth option or flatten the value.`,
      { path: 'value', cause: error },
    )
  }
  return new XComError(
    action === 'serialize' ? 'E_NOT_SERIALIZABLE' : 'E_CORRUPT',
    `Cannot ${action} value: ${error instanceof Error ? error.message : String(error)}`,
    { path: 'value', cause: error },
  )
}
