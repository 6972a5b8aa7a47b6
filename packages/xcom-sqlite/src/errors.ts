import { XComError, type XComErrorCode } from '@xcom/core'

/** SQLite primary result codes this package gives a specific meaning (https://sqlite.org/rescode.html). */
const SQLITE = {
  PERM: 3,
  BUSY: 5,
  LOCKED: 6,
  READONLY: 8,
  CORRUPT: 11,
  FULL: 13,
  CANTOPEN: 14,
  AUTH: 23,
  NOTADB: 26,
}

/**
 * The one place that turns a node:sqlite or file-system error into an {@link XComError}: what was being done, on
 * which database, and what to do next. An XComError passes through unchanged.
 * @param action what was being done, e.g. "writing a row".
 * @param location the database file (or `:memory:`).
 */
export function sqliteError(error: unknown, action: string, location: string): XComError {
  if (XComError.is(error)) return error
  const {
    errcode,
    code: fsCode,
    message,
  } = (error ?? {}) as { errcode?: unknown; code?: unknown; message?: unknown }
  const reason = typeof message === 'string' ? message : String(error)
  const primary = typeof errcode === 'number' ? errcode & 0xff : undefined
  let code: XComErrorCode = 'E_BACKEND'
  let hint = 'check the database file and retry.'
  if (primary === SQLITE.BUSY || primary === SQLITE.LOCKED) {
    hint =
      'another connection held the write lock for longer than busyTimeoutMs: retry, or raise busyTimeoutMs.'
  } else if (
    primary === SQLITE.PERM ||
    primary === SQLITE.READONLY ||
    primary === SQLITE.AUTH ||
    fsCode === 'EACCES' ||
    fsCode === 'EPERM' ||
    fsCode === 'EROFS'
  ) {
    code = 'E_PERMISSION_DENIED'
    hint = 'make the file and its directory writable by this process, or point XCOM_METADATA_URL elsewhere.'
  } else if (primary === SQLITE.CORRUPT || primary === SQLITE.NOTADB) {
    code = 'E_CORRUPT'
    hint =
      'the file is not an xcom SQLite database or is damaged: restore it from a backup or point XCOM_METADATA_URL elsewhere.'
  } else if (primary === SQLITE.CANTOPEN || typeof fsCode === 'string') {
    code = 'E_CONFIG'
    hint = 'check that the path names a file in a directory this process can create and write.'
  } else if (primary === SQLITE.FULL) {
    hint = 'the disk is full: free space and retry.'
  }
  return new XComError(
    code,
    `${capitalize(action)} in the SQLite metadata database ${location} failed: ${reason}; ${hint}`,
    {
      cause: error,
      uri: `sqlite://${location}`,
    },
  )
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
