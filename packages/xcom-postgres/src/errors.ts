import { XComError, type XComErrorCode } from '@xcom/core'

/** Node socket errors that mean the server could not be reached. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
])

/**
 * The one place that turns a pg or socket error into an {@link XComError}: what was being done, on which database
 * (password masked), and what to do next. An XComError passes through unchanged.
 * @param action what was being done, e.g. "writing a row".
 * @param target the database URL with its password masked, and the schema.
 */
export function postgresError(
  error: unknown,
  action: string,
  target: { url: string; schema: string },
): XComError {
  if (XComError.is(error)) return error
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  const sqlState = typeof code === 'string' ? code : ''
  const reason = typeof message === 'string' && message.length > 0 ? message : String(error)
  let xcomCode: XComErrorCode = 'E_BACKEND'
  let hint = 'check the server logs and retry.'
  // Refused logins and unreachable servers fail whatever was being done: the message says connecting.
  let doing = action
  if (sqlState === '28000' || sqlState === '28P01') {
    doing = 'connecting'
    xcomCode = 'E_PERMISSION_DENIED'
    hint = 'check the user and password of XCOM_METADATA_URL (or PGUSER / PGPASSWORD) and pg_hba.conf.'
  } else if (sqlState === '42501') {
    xcomCode = 'E_PERMISSION_DENIED'
    hint =
      'grant this user USAGE and CREATE on the schema and read/write on its xcom_* tables, or use another schema.'
  } else if (sqlState === '3D000' || sqlState === '3F000') {
    xcomCode = 'E_CONFIG'
    hint = 'the database or schema does not exist: create it or fix XCOM_METADATA_URL.'
  } else if (sqlState === '57014') {
    hint = 'the statement was cancelled, usually by statement_timeout: retry, or raise statementTimeoutMs.'
  } else if (sqlState === '40001' || sqlState === '40P01') {
    hint = 'concurrent writers conflicted repeatedly: retry.'
  } else if (
    UNREACHABLE.has(sqlState) ||
    sqlState.startsWith('08') ||
    sqlState.startsWith('57P') ||
    /timeout|terminated|Connection ended/i.test(reason)
  ) {
    doing = 'connecting'
    hint =
      'the server could not be reached: check that it is running and that XCOM_METADATA_URL names the right host and port.'
  }
  const database = `${target.url} (schema ${target.schema})`
  return new XComError(
    xcomCode,
    doing === 'connecting'
      ? `Connecting to the PostgreSQL metadata database ${database} failed: ${reason}; ${hint}`
      : `${capitalize(doing)} in the PostgreSQL metadata database ${database} failed: ${reason}; ${hint}`,
    {
      cause: error,
      uri: target.url,
    },
  )
}

/** True for failures of a whole single-statement transaction that are safe to retry (nothing was committed). */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  return code === '40001' || code === '40P01'
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
