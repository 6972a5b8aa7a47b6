import { mapLimit } from './concurrency.ts'
import type { DatabaseIdentity, MetadataStore, XComBackend, XComRecord } from './contracts.ts'
import { XComError } from './errors.ts'
import { contextOf, formatIdentity } from './identity.ts'
import { errorType, type Telemetry } from './telemetry.ts'
import type { GcOptions, GcReport } from './xcom-types.ts'

/** What a {@link Purger} works with: the XCom's stores, its telemetry and how to reach the rest of its state. */
export interface PurgerOptions {
  metadata: MetadataStore
  backend: XComBackend
  telemetry: Telemetry
  /** Purges run at once. */
  concurrency: number
  /** The database's identity (asked once by the XCom). */
  identity: () => Promise<DatabaseIdentity>
  /** Every row of the database, a page at a time. */
  rows: () => AsyncIterable<XComRecord[]>
}

/**
 * Deletes what replaced, cleared and expired values leave behind: purges through the backend (a failure stays
 * recorded, is logged and counted, and the next `gc` retries it), and `gc`'s retry and sweep.
 */
export class Purger {
  readonly #options: PurgerOptions

  constructor(options: PurgerOptions) {
    this.#options = options
  }

  /**
   * Purges each record's value. Stores queue purges for references only, so only those are resolved; a failure
   * stays recorded for gc(). A malformed row, or a reference that names no object of its XCom (`E_CORRUPT`), owns
   * nothing that could be deleted: its purge is resolved, and the sweep collects any object it left.
   */
  async purge(
    records: XComRecord[],
    onDone?: (done: number) => void,
  ): Promise<{ purged: number; failedPurges: number }> {
    const { concurrency } = this.#options
    const resolved: string[] = []
    let purged = 0
    let failed = 0
    let done = 0
    await mapLimit(records, concurrency, async (record) => {
      if (record.value.kind !== 'inline')
        try {
          if (record.value.kind === 'reference') {
            await this.#purgeOne(record)
            purged++
          }
          resolved.push(record.id)
        } catch (error) {
          if (XComError.is(error, 'E_CORRUPT')) resolved.push(record.id)
          else {
            failed++
            this.#purgeFailed(record, error)
          }
        }
      done++
      onDone?.(done)
    })
    if (resolved.length > 0) await this.#resolve(resolved)
    return { purged, failedPurges: failed }
  }

  /**
   * Marks purges done. Their objects are gone and the row change that queued them committed, so a failure here must
   * not fail the push or clear: the purges stay recorded and the next gc() deletes nothing and resolves them.
   */
  async #resolve(ids: string[]): Promise<void> {
    try {
      await this.#options.metadata.resolvePurges(ids)
    } catch (error) {
      this.#options.telemetry.logger.warn(
        `Marking ${ids.length} finished purge(s) as done failed: ${(error as Error)?.message ?? String(error)}. They stay recorded; the next gc() resolves them (their objects are already deleted).`,
        { code: errorType(error) },
      )
    }
  }

  /** Retries recorded purges, then runs the backend's sweep (see `XCom.gc`). */
  async gc(options: GcOptions): Promise<GcReport> {
    const { metadata, backend, identity, telemetry } = this.#options
    const { graceMs = 3_600_000, dryRun = false, onProgress } = options
    const pending = (await metadata.pendingPurges(options.maxPurges ?? 10_000)).map((purge) => purge.record)
    const purges = dryRun
      ? { purged: pending.length, failedPurges: 0 }
      : await this.purge(pending, (done) => onProgress?.({ phase: 'purges', done, total: pending.length }))
    const sweep = backend.sweep
      ? await backend.sweep({
          graceMs,
          database: await identity(),
          referenced: () => this.#referenced(),
          dryRun,
          ...(onProgress
            ? { onProgress: (scanned: number) => onProgress({ phase: 'sweep', done: scanned }) }
            : {}),
        })
      : undefined
    if (sweep && !dryRun) telemetry.count('xcom.gc.deletions', sweep.deleted)
    for (const target of sweep?.failed ?? [])
      telemetry.logger.warn(`gc could not delete ${target}; the next gc() tries again.`, { uri: target })
    return { dryRun, purgesRetried: purges.purged, purgesFailed: purges.failedPurges, sweep }
  }

  /**
   * Deletes what a push stored when its row could not be written (never committed): nothing references it. A failure
   * is a warning, not an error: the object waits for the sweep of `gc()` once the grace period has passed.
   */
  async purgeUnwritten(record: XComRecord): Promise<void> {
    try {
      await this.#purgeOne(record)
    } catch (error) {
      const xcom = formatIdentity(record)
      this.#options.telemetry.count('xcom.purge.failures', 1, { 'error.type': errorType(error) })
      this.#options.telemetry.logger.warn(
        `Deleting what the failed push of XCom ${xcom} stored failed: ${(error as Error)?.message ?? String(error)}. No row references it; gc() sweeps it after the grace period.`,
        { xcom, uri: uriOf(record), code: errorType(error) },
      )
    }
  }

  async #purgeOne(record: XComRecord): Promise<void> {
    const { backend, telemetry } = this.#options
    await telemetry.span(
      'xcom.purge',
      { 'xcom.dag_id': record.dagId, 'xcom.run_id': record.runId, 'xcom.task_id': record.taskId },
      () => backend.purge(record.value, contextOf(record)),
      { client: true },
    )
  }

  /** Says that a purge failed and what happens next; the purge stays recorded for gc(). */
  #purgeFailed(record: XComRecord, error: unknown): void {
    const { telemetry } = this.#options
    const xcom = formatIdentity(record)
    const code = errorType(error)
    telemetry.count('xcom.purge.failures', 1, { 'error.type': code })
    telemetry.logger.warn(
      `Purging the replaced or cleared value of XCom ${xcom} failed: ${(error as Error)?.message ?? String(error)}. It stays recorded; the next gc() deletes it.`,
      { xcom, uri: uriOf(record), code },
    )
  }

  /** Every record the database holds, and those whose purge is pending (not garbage yet either). */
  async *#referenced(): AsyncIterable<XComRecord> {
    for await (const page of this.#options.rows()) yield* page
    const pending = await this.#options.metadata.pendingPurges(Number.MAX_SAFE_INTEGER)
    for (const purge of pending) yield purge.record
  }
}

function uriOf(record: XComRecord): string | undefined {
  return record.value.kind === 'reference' ? record.value.ref.uri : undefined
}
