import { XComError, type XComErrorCode } from '../errors.ts'
import { messageOf } from './internal.ts'

/**
 * Internal: a serialization failure on its way up the walk. Each container frame it passes adds the segment that
 * led to its child, so the fast path keeps no path bookkeeping at all.
 */
export class Failure {
  /** Path segments with the container level that added each, innermost first. */
  readonly segments: { level: number; text: string }[] = []

  /** `undefined` for an unexpected error (a throwing getter...): the direction decides the code. */
  readonly code: XComErrorCode | undefined
  /** May contain `{ancestor}`, replaced by the path of the container at {@link Failure.ancestorLevel}. */
  readonly reason: string
  readonly cause?: unknown
  /** Frames at this container level or deeper add no segment (used to cut a circular path at its repeat). */
  readonly keepBelow: number
  readonly ancestorLevel: number

  constructor(
    code: XComErrorCode | undefined,
    reason: string,
    cause?: unknown,
    keepBelow = Number.POSITIVE_INFINITY,
    ancestorLevel = 0,
  ) {
    this.code = code
    this.reason = reason
    this.cause = cause
    this.keepBelow = keepBelow
    this.ancestorLevel = ancestorLevel
  }
}

/** Throws a {@link Failure}. */
export function fail(code: XComErrorCode, reason: string, cause?: unknown): never {
  throw new Failure(code, reason, cause)
}

/**
 * Adds `segment` to the failure passing through the container frame at `level` and returns it; any other error
 * (a throwing getter, a proxy...) becomes a failure here, so its path is known too.
 */
export function atSegment(error: unknown, level: number, segment: string): Failure {
  const failure = asFailure(error)
  if (level < failure.keepBelow) failure.segments.push({ level, text: segment })
  return failure
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** The path segment of an object key: `.name` or `["odd key"]`. */
export function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

function asFailure(error: unknown): Failure {
  return error instanceof Failure
    ? error
    : new Failure(undefined, `it threw an unexpected error: ${messageOf(error)}`, error)
}

/** Converts whatever a walk threw into the {@link XComError} the public API throws. */
export function toXComError(error: unknown, action: 'serialize' | 'deserialize'): XComError {
  const failure = asFailure(error)
  const segments = failure.segments.toReversed()
  const pathTo = (below: number) =>
    `value${segments
      .filter((segment) => segment.level < below)
      .map((segment) => segment.text)
      .join('')}`
  const path = pathTo(Number.POSITIVE_INFINITY)
  let code = failure.code
  let reason = failure.reason.replace('{ancestor}', () => pathTo(failure.ancestorLevel))
  if (
    code === undefined &&
    failure.cause instanceof RangeError &&
    /call stack/i.test(failure.cause.message)
  ) {
    code = 'E_TOO_LARGE'
    reason =
      'it is nested too deeply for the JavaScript stack. Lower the maxDepth option or flatten the value.'
  }
  code ??= action === 'serialize' ? 'E_NOT_SERIALIZABLE' : 'E_CORRUPT'
  return new XComError(code, `Cannot ${action} ${path}: ${reason}`, { path, cause: failure.cause })
}
