import type { SweepReport, XComKey } from './contracts.ts'

/** One XCom returned by `pullMany`; `T` is the type the caller expects its value to have. */
export interface PulledXCom<T = unknown> extends XComKey {
  value: T
}

/** What `clear`, `purgeExpired` and `gc` report. */
export interface PurgeReport {
  /** Rows deleted. */
  deleted: number
  /** Stored values whose objects were deleted (inline values own no object and are not counted). */
  purged: number
  /** Purges that failed; they stay recorded and `gc()` retries them. */
  failedPurges: number
}

/** What `gc` reports. In a dry run the counts are what it would do; nothing was deleted or retried. */
export interface GcReport {
  /** True when nothing was deleted (`gc({ dryRun: true })`). */
  dryRun: boolean
  /** Recorded purges retried and completed (in a dry run: the purges pending, which a real run would retry). */
  purgesRetried: number
  /** Recorded purges that failed again (0 in a dry run). */
  purgesFailed: number
  /** The backend's sweep of unreferenced objects, if it has one. */
  sweep: SweepReport | undefined
}

/** Options of {@link XCom.gc}. */
export interface GcOptions {
  /** Objects younger than this are kept (pushes may be in flight). @default 3_600_000 (1 hour) */
  graceMs?: number
  /** Recorded purges retried per call. @default 10_000 */
  maxPurges?: number
  /** Count what would be retried and deleted, and delete nothing. @default false */
  dryRun?: boolean
  /** Called as the work advances, for progress bars on long sweeps (see {@link GcProgress}). */
  onProgress?: (progress: GcProgress) => void
}

/** How far `gc` has come: `phase` is the step under way, `done` counts its items, `total` when it is known. */
export interface GcProgress {
  /** `purges`: retrying recorded purges; `sweep`: listing the store and deleting what no row references. */
  phase: 'purges' | 'sweep'
  /** Purges retried, or objects scanned. */
  done: number
  /** The purges to retry; absent for the sweep, whose listing is not counted beforehand. */
  total?: number
}
