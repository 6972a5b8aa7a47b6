import type { MetadataStore, SweepReport, XComBackend, XComKey } from './contracts.ts'
import type { LogFormat, Logger, LogLevel, LogStream } from './logger.ts'
import type { TelemetryOptions } from './telemetry.ts'

/** Options of {@link XCom}. */
export interface XComOptions {
  /** Where rows live. */
  metadata: MetadataStore
  /** How values are stored. @default new BaseXComBackend() (everything inline) */
  backend?: XComBackend
  /** The clock, for tests. @default () => new Date() */
  now?: () => Date
  /** How many values `pullMany` and purges handle at once. @default 8 */
  concurrency?: number
  /**
   * OpenTelemetry: the tracer and meter to record spans and metrics with, or false for none.
   * @default the global providers' when `@opentelemetry/api` is installed (nothing is recorded without an SDK)
   */
  telemetry?: TelemetryOptions | false
  /** Where xcom's log lines go: any object with debug/info/warn/error (console, pino, winston). @default stderr */
  logger?: Logger
  /** The lowest level logged. @default XCOM_LOG_LEVEL (or AIRFLOW__LOGGING__LOGGING_LEVEL), else `warn` */
  logLevel?: LogLevel
  /** The line format of the default logger (stderr). @default XCOM_LOG_FORMAT, else `text` */
  logFormat?: LogFormat
  /** Where the default logger writes its lines. @default process.stderr */
  logStream?: LogStream
}

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

/** Options of `XCom.rotateKeys`. */
export interface RotateKeysOptions {
  /** Count what would be re-encrypted, and change nothing. @default false */
  dryRun?: boolean
  /** Called after each XCom examined, with the counts so far, for progress bars. */
  onProgress?: (progress: RotationProgress) => void
}

/** The counts of a rotation so far: XComs examined (`done`), and each outcome. */
export type RotationProgress = { done: number } & Pick<
  RotationReport,
  'rotated' | 'current' | 'changed' | 'malformed'
> & { failed: number }

/** What `XCom.rotateKeys` did. */
export interface RotationReport {
  dryRun: boolean
  /** The id of the key the XComs are now (or in a dry run would be) encrypted under. */
  activeKeyId: string
  /** XComs examined: `rotated + current + changed + malformed + failed.length`. */
  scanned: number
  /** XComs re-encrypted under the active key (in a dry run: that would be). */
  rotated: number
  /** XComs already under the active key. */
  current: number
  /** XComs pushed, cleared or rotated by someone else while they were re-encrypted: left as they are now. */
  changed: number
  /** Rows that could not be decoded (see `xcom verify`): nothing to re-encrypt. */
  malformed: number
  /** Old values whose purge failed after their row was switched: recorded, `gc()` retries them. */
  failedPurges: number
  /** XComs that could not be re-encrypted (their row is unchanged), with the error's code and message. */
  failed: { xcom: string; code: string; message: string }[]
}
