import { XComError } from '@xcom/core'

/**
 * The exit codes of `xcom`, documented in the README. Scripts branch on them, so a code never changes meaning.
 */
export const EXIT = {
  /** Everything worked; every check passed. */
  ok: 0,
  /** A check found problems (`verify`, `doctor`), or some XComs failed (`rotate-keys`): the command itself ran. */
  problems: 1,
  /** The command line is wrong (unknown option, missing argument, bad identifier, a question nobody can answer). */
  usage: 2,
  /** `E_CONFIG`: the configuration (variables or flags) is wrong. */
  config: 3,
  /** `E_NOT_FOUND`: no such XCom, or its object is missing. */
  notFound: 4,
  /** `E_CORRUPT`: stored data fails its checksum or cannot be decoded. */
  corrupt: 5,
  /** `E_PERMISSION_DENIED`: the storage or database refused access. */
  permissionDenied: 6,
  /** Any other `XComError` (`E_BACKEND`, `E_TOO_LARGE`...). */
  xcomError: 10,
  /** An unexpected error: a bug in xcom; please report it with the message. */
  internal: 70,
} as const

/** The exit code for an error thrown by a command. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage
  if (!XComError.is(error)) return EXIT.internal
  switch (error.code) {
    case 'E_CONFIG':
      return EXIT.config
    case 'E_NOT_FOUND':
      return EXIT.notFound
    case 'E_CORRUPT':
      return EXIT.corrupt
    case 'E_PERMISSION_DENIED':
      return EXIT.permissionDenied
    case 'E_INVALID_KEY':
      return EXIT.usage
    default:
      return EXIT.xcomError
  }
}

/** A mistake on the command line found by a command itself (commander reports its own). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** One line for stderr: the code (when there is one) and the message, which says what to do. */
export function errorLine(error: unknown): string {
  if (XComError.is(error)) return `xcom: ${error.code}: ${oneLine(error.message)}`
  if (error instanceof UsageError) return `xcom: ${oneLine(error.message)}`
  const message = error instanceof Error ? error.message : String(error)
  return `xcom: unexpected error: ${oneLine(message)} (please report this at https://github.com/xcom-dev/xcom/issues)`
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
