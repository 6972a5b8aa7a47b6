/** Every error code an xcom package raises. Each names one kind of failure a caller can act on. */
export const XCOM_ERROR_CODES = [
  'E_INVALID_KEY',
  'E_NOT_FOUND',
  'E_CORRUPT',
  'E_NOT_SERIALIZABLE',
  'E_NOT_ALLOWED',
  'E_TOO_LARGE',
  'E_UNKNOWN_CODEC',
  'E_UNKNOWN_SCHEME',
  'E_CONFIG',
  'E_PERMISSION_DENIED',
  'E_PRECONDITION_FAILED',
  'E_BACKEND',
] as const

/** One of {@link XCOM_ERROR_CODES}. */
export type XComErrorCode = (typeof XCOM_ERROR_CODES)[number]

/** Optional context attached to an {@link XComError}. */
export interface XComErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown
  /** The XCom the failure concerns, printed as `dag/run/task[map]/key`. */
  xcom?: string
  /** The URI (object, store, database) the failure concerns; must not contain secrets. */
  uri?: string
  /** The path to the offending field for serialization errors, e.g. `value.rows[3].fn`. */
  path?: string
}

/**
 * The one error class of xcom. `code` says what kind of failure it is; the message says what was being done,
 * to which XCom or URI, and what to do next; `cause` holds the underlying error.
 */
export class XComError extends Error {
  /** The machine-readable error code. */
  readonly code: XComErrorCode
  // Declared, not initialized: a field that does not apply is absent, so a printed error shows no `path: undefined`.
  /** The XCom the failure concerns, if any. */
  declare readonly xcom?: string
  /** The URI the failure concerns, if any. */
  declare readonly uri?: string
  /** The path of the offending field, for serialization errors. */
  declare readonly path?: string

  constructor(code: XComErrorCode, message: string, options: XComErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'XComError'
    this.code = code
    const self = this as { xcom?: string; uri?: string; path?: string }
    if (options.xcom !== undefined) self.xcom = options.xcom
    if (options.uri !== undefined) self.uri = options.uri
    if (options.path !== undefined) self.path = options.path
  }

  /**
   * True when `error` is an {@link XComError}, optionally with the given code. Works across copies of `@xcom/core`
   * (two versions installed side by side): it checks the brand every copy registers, not the class.
   */
  static is(error: unknown, code?: XComErrorCode): error is XComError {
    if (typeof error !== 'object' || error === null) return false
    if ((error as { [XCOM_ERROR_BRAND]?: unknown })[XCOM_ERROR_BRAND] !== true) return false
    return code === undefined || (error as { code?: unknown }).code === code
  }

  /** `error instanceof XComError` also holds for an XComError of another copy of `@xcom/core` (see {@link is}). */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    // Subclasses keep the ordinary prototype check: only XComError itself answers by brand. `this` is the class on
    // the right of `instanceof`, which is the point here.
    // biome-ignore lint/complexity/noThisInStatic: the class being tested is `this`, not always XComError.
    return this === XComError
      ? XComError.is(instance)
      : // biome-ignore lint/complexity/noThisInStatic: as above.
        Function.prototype[Symbol.hasInstance].call(this, instance)
  }
}

/** The brand of every XComError of every copy of `@xcom/core`: a registered symbol, the same in each copy. */
const XCOM_ERROR_BRAND = Symbol.for('@xcom/core.XComError')
Object.defineProperty(XComError.prototype, XCOM_ERROR_BRAND, { value: true })
