import { BaseXComBackend } from './backend.ts'
import type { CheckResult, DatabaseIdentity, MetadataStore, XComBackend } from './contracts.ts'
import { XComError } from './errors.ts'

/** What {@link XCom.check} reports: `ok` is true when every check passed. */
export interface CheckReport {
  ok: boolean
  checks: CheckResult[]
}

/** What {@link checkMetadata} found: the check, and the database's identity when it could be read. */
export interface MetadataCheck {
  check: CheckResult
  database: DatabaseIdentity | undefined
}

const METADATA_FIX =
  'check XCOM_METADATA_URL (or the options the MetadataStore was opened with), that the server runs and accepts this user'

/**
 * Checks that the metadata database opens and its schema is current: reads its identity and one row. Never throws.
 * @param identity how to read the identity. @default () => metadata.identity()
 */
export async function checkMetadata(
  metadata: MetadataStore,
  identity: () => Promise<DatabaseIdentity> = () => metadata.identity(),
): Promise<MetadataCheck> {
  let database: DatabaseIdentity | undefined
  try {
    database = await identity()
    await metadata.list({}, { limit: 1 })
    return {
      check: {
        name: 'metadata database',
        ok: true,
        detail: `${database.description} opens; its schema is current`,
      },
      database,
    }
  } catch (error) {
    return { check: failedCheck('metadata database', error, METADATA_FIX), database }
  }
}

/**
 * Runs the backend's own check (`database` absent: the checks that need it are skipped). A backend without one passes
 * with a line saying where values stay. Never throws: a check that throws is reported as failed.
 */
export async function checkBackend(
  backend: XComBackend,
  database: DatabaseIdentity | undefined,
): Promise<CheckResult[]> {
  if (!backend.check) {
    const detail =
      backend.constructor === BaseXComBackend
        ? 'values stay in the metadata database (no object storage)'
        : `values stay where ${backend.constructor.name || 'the backend'} keeps them (it has no check of its own)`
    return [{ name: 'backend', ok: true, detail }]
  }
  try {
    return await backend.check({ database })
  } catch (error) {
    return [failedCheck('backend', error, 'check XCOM_BACKEND and the XCOM_OBJECTSTORAGE_* variables')]
  }
}

/** A failed check from an error: its code, its message on one line, and `fix`. */
export function failedCheck(name: string, error: unknown, fix: string): CheckResult {
  const code = XComError.is(error) ? error.code : undefined
  const message = error instanceof Error ? error.message.replace(/\s*\n\s*/g, ' ') : String(error)
  return { name, ok: false, detail: code ? `${code}: ${message}` : message, fix, ...(code ? { code } : {}) }
}

/** Every check: the database first, then the backend (told the database's identity when it could be read). */
export async function runChecks(
  metadata: MetadataStore,
  backend: XComBackend,
  identity?: () => Promise<DatabaseIdentity>,
): Promise<CheckReport> {
  const { check, database } = await checkMetadata(metadata, identity)
  const checks = [check, ...(await checkBackend(backend, database))]
  return { ok: checks.every((result) => result.ok), checks }
}
