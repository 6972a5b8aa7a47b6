import { XCom, type XComQuery } from '@xcom/core'
import { InvalidArgumentError } from 'commander'
import type { CliIO } from './output.ts'

/** A flag that overrides one of the library's variables for this run. */
export interface Override {
  /** The commander flag, e.g. `--metadata-url <url>`. */
  flag: string
  /** The option's name once parsed. */
  option: Exclude<keyof GlobalOptions, 'verbose'>
  /** The variable it sets (xcom's own spelling, which wins over Airflow's). */
  variable: string
  description: string
}

/** The global flags, all optional: each overrides one environment variable. */
export interface GlobalOptions {
  metadataUrl?: string
  path?: string
  threshold?: string
  compression?: string
  checksum?: string
  backend?: string
  /** `--verbose`: debug logs on stderr (XCOM_LOG_LEVEL=debug). */
  verbose?: boolean
}

/** The flags every command takes, and the variable each one overrides. */
export const OVERRIDES: readonly Override[] = [
  {
    flag: '--metadata-url <url>',
    option: 'metadataUrl',
    variable: 'XCOM_METADATA_URL',
    description: 'metadata database: sqlite://path, postgres://user@host/db or memory://',
  },
  {
    flag: '--path <url>',
    option: 'path',
    variable: 'XCOM_OBJECTSTORAGE_PATH',
    description: 'object storage: file:///dir, s3://conn@bucket/prefix, gs://..., abfs://...',
  },
  {
    flag: '--threshold <bytes>',
    option: 'threshold',
    variable: 'XCOM_OBJECTSTORAGE_THRESHOLD',
    description: 'values larger than this go to object storage (-1: none, 0: all)',
  },
  {
    flag: '--compression <codec>',
    option: 'compression',
    variable: 'XCOM_OBJECTSTORAGE_COMPRESSION',
    description: 'codec of new objects: gzip, zstd, none...',
  },
  {
    flag: '--checksum <algorithm>',
    option: 'checksum',
    variable: 'XCOM_OBJECTSTORAGE_CHECKSUM',
    description: 'checksum of new objects: crc32 or sha256',
  },
  {
    flag: '--backend <module#Export>',
    option: 'backend',
    variable: 'XCOM_BACKEND',
    description: 'the backend class to load',
  },
]

/** The environment the library sees: the process's, with each given flag written over its variable. */
export function effectiveEnv(
  env: CliIO['env'],
  options: GlobalOptions,
): { env: Record<string, string | undefined>; flags: Map<string, string> } {
  const merged = { ...env }
  const flags = new Map<string, string>()
  for (const override of OVERRIDES) {
    const value = options[override.option]
    if (value === undefined) continue
    merged[override.variable] = value
    flags.set(override.variable, override.flag.split(' ')[0] as string)
  }
  if (options.verbose) {
    merged.XCOM_LOG_LEVEL = 'debug'
    flags.set('XCOM_LOG_LEVEL', '--verbose')
  }
  return { env: merged, flags }
}

/**
 * Builds the XCom exactly as the library does (`XCom.fromEnv`), runs `work` with it and closes it whatever happens.
 * Only the adapters the configuration names are imported.
 */
export async function withXCom<T>(
  io: CliIO,
  options: GlobalOptions,
  work: (xcom: XCom) => Promise<T>,
): Promise<T> {
  // Log lines go to the command's stderr, beside its own messages, never into stdout's tables or JSON.
  const xcom = await XCom.fromEnv(effectiveEnv(io.env, options).env, { logStream: io.stderr })
  try {
    return await work(xcom)
  } finally {
    await xcom.close().catch(() => {})
  }
}

/** The filter flags of listing commands. */
export interface FilterOptions {
  dag?: string
  run?: string
  task?: string
  key?: string
  mapIndex?: number
}

/** The query the filter flags select. */
export function queryOf(filters: FilterOptions): XComQuery {
  const query: XComQuery = {}
  if (filters.dag !== undefined) query.dagId = filters.dag
  if (filters.run !== undefined) query.runId = filters.run
  if (filters.task !== undefined) query.taskId = filters.task
  if (filters.key !== undefined) query.key = filters.key
  if (filters.mapIndex !== undefined) query.mapIndex = filters.mapIndex
  return query
}

/** Commander's parser for `--map-index`: an integer >= -1. */
export function parseMapIndex(text: string): number {
  const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(value) || value < -1) {
    throw new InvalidArgumentError('use an integer >= -1 (-1: not mapped).')
  }
  return value
}

/** Commander's parser for durations: `90s`, `15m`, `1h`, `7d`, or milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (!match) throw new InvalidArgumentError('use a duration such as 30m, 1h or 7d.')
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] as number
  return Math.round(Number(match[1]) * unit)
}
