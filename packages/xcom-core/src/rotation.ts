import { randomUUID } from 'node:crypto'
import type { DatabaseIdentity, MetadataStore, XComBackend, XComQuery, XComRecord } from './contracts.ts'
import { XComError } from './errors.ts'
import { contextOf, formatIdentity } from './identity.ts'
import type { Purger } from './purger.ts'
import { errorType, type Telemetry } from './telemetry.ts'
import type { RotateKeysOptions, RotationReport } from './xcom-types.ts'

/** What a rotation works with: the XCom's stores, purger, telemetry and its rows. */
export interface RotationContext {
  metadata: MetadataStore
  backend: XComBackend
  purger: Purger
  telemetry: Telemetry
  identity: () => Promise<DatabaseIdentity>
  pages: (query: XComQuery) => AsyncIterable<XComRecord[]>
}

/**
 * Re-encrypts every XCom `query` selects that is not under the active key, one at a time: the value is rewritten
 * (streamed) as a new record, the row is switched only while it still holds the old record (a concurrent push wins),
 * then the old value is purged. A crash at any point leaves either the old row (and an unreferenced object for gc) or
 * the new row (and a recorded purge): running it again finishes the work.
 * @throws XComError `E_CONFIG` when the backend cannot re-encrypt or the metadata store cannot compare-and-swap.
 */
export async function rotateKeys(
  context: RotationContext,
  query: XComQuery,
  options: RotateKeysOptions,
): Promise<RotationReport> {
  const { metadata, backend, telemetry } = context
  const activeKeyId = backend.activeKeyId?.bind(backend)
  const needs = backend.needsReencryption?.bind(backend)
  const reencrypt = backend.reencrypt?.bind(backend)
  const replaceIf = metadata.replaceIf?.bind(metadata)
  if (!activeKeyId || !needs || !reencrypt)
    throw new XComError(
      'E_CONFIG',
      'Key rotation needs a backend that encrypts (ObjectStoreXComBackend with encryption, e.g. XCOM_ENCRYPTION_KEYS).',
    )
  if (!replaceIf)
    throw new XComError(
      'E_CONFIG',
      'Key rotation needs a metadata store with replaceIf (compare-and-swap): SQLite, PostgreSQL and the memory store have it.',
    )
  const dryRun = options.dryRun === true
  const report: RotationReport = {
    dryRun,
    // Asked before any row is read: a backend without keys fails here, even when nothing is selected.
    activeKeyId: await activeKeyId(),
    scanned: 0,
    rotated: 0,
    current: 0,
    changed: 0,
    malformed: 0,
    failedPurges: 0,
    failed: [],
  }
  const database = await context.identity()
  for await (const page of context.pages(query)) {
    for (const record of page) {
      report.scanned++
      if (record.value.kind === 'malformed') report.malformed++
      else if (!(await needs(record.value, contextOf(record)))) report.current++
      else if (dryRun) report.rotated++
      else {
        try {
          const outcome = await rotateOne(context, record, database, reencrypt, replaceIf)
          if (outcome === 'changed') report.changed++
          else {
            report.rotated++
            report.failedPurges += outcome.failedPurges
          }
        } catch (error) {
          const xcom = formatIdentity(record)
          const message = (error as Error)?.message ?? String(error)
          report.failed.push({ xcom, code: errorType(error), message })
          telemetry.logger.warn(`Re-encrypting XCom ${xcom} failed, its value is unchanged: ${message}`, {
            xcom,
            code: errorType(error),
          })
        }
      }
      const { scanned: done, rotated, current, changed, malformed, failed } = report
      options.onProgress?.({ done, rotated, current, changed, malformed, failed: failed.length })
    }
  }
  return report
}

/** Rewrites one XCom under the active key and switches its row; `changed` when a concurrent write won. */
async function rotateOne(
  context: RotationContext,
  record: XComRecord,
  database: DatabaseIdentity,
  reencrypt: NonNullable<XComBackend['reencrypt']>,
  replaceIf: NonNullable<MetadataStore['replaceIf']>,
): Promise<'changed' | { failedPurges: number }> {
  const { metadata, purger } = context
  const to = { ...contextOf(record), recordId: randomUUID(), database }
  let value: XComRecord['value']
  try {
    value = await reencrypt(record.value, contextOf(record), to)
  } catch (error) {
    // A push or clear since the row was listed purges the old object: the XCom changed, nothing is lost.
    const current = await metadata.get(record).then(
      (row) => row?.id,
      () => null,
    )
    if (current !== null && current !== record.id) return 'changed'
    throw error
  }
  const rewritten: XComRecord = { ...record, id: to.recordId, value }
  let replaced: XComRecord | undefined
  try {
    replaced = await replaceIf(rewritten, record.id)
  } catch (error) {
    // The switch may have committed before its answer was lost: only a row that is certainly not ours is undone.
    const current = await metadata.get(record).then(
      (row) => row?.id,
      () => null,
    )
    if (current === rewritten.id) return { failedPurges: 0 }
    if (current !== null) await purger.purgeUnwritten(rewritten)
    throw error
  }
  if (!replaced) {
    await purger.purgeUnwritten(rewritten)
    return 'changed'
  }
  return { failedPurges: (await purger.purge([replaced])).failedPurges }
}
