import { XComError } from './errors.ts'
import { maskText } from './mask.ts'

/** How much xcom says, least first: `silent` says nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

/** The default logger's line format: `text` for people, `json` (one object per line) for log collectors. */
export type LogFormat = 'text' | 'json'

/**
 * Any logger with these four methods: `console`, pino, winston, bunyan. Loggers whose methods take the fields first
 * (pino and bunyan: they have `child` and `bindings` or `fields`) get `(fields, message)`; others `(message, fields)`.
 */
export interface Logger {
  debug(...args: never[]): unknown
  info(...args: never[]): unknown
  warn(...args: never[]): unknown
  error(...args: never[]): unknown
}

/** The structured part of a log line: the XCom, the URI, the error code... never a value, never a secret. */
export type LogFields = Record<string, string | number | boolean | undefined>

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

/** Airflow's level names (`AIRFLOW__LOGGING__LOGGING_LEVEL`) in xcom's words. */
const AIRFLOW_LEVELS: Record<string, LogLevel> = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'error',
  fatal: 'error',
  silent: 'silent',
  off: 'silent',
}

/**
 * Reads a level as written in `variable` (xcom's or Airflow's names, any case).
 * @throws XComError `E_CONFIG` naming the variable and the valid levels.
 */
export function parseLogLevel(text: string, variable: string): LogLevel {
  const level = AIRFLOW_LEVELS[text.trim().toLowerCase()]
  if (level) return level
  throw new XComError(
    'E_CONFIG',
    `${variable}=${JSON.stringify(maskText(text))} is not a log level: use debug, info, warn, error or silent.`,
  )
}

/**
 * Reads a log format.
 * @throws XComError `E_CONFIG` naming the variable when it is neither `text` nor `json`.
 */
export function parseLogFormat(text: string, variable: string): LogFormat {
  const format = text.trim().toLowerCase()
  if (format === 'text' || format === 'json') return format
  throw new XComError(
    'E_CONFIG',
    `${variable}=${JSON.stringify(maskText(text))} is not a log format: use text or json.`,
  )
}

/** Where the default logger writes. */
export interface LogStream {
  write(line: string): unknown
}

/**
 * What xcom logs through: drops lines below `level`, masks secrets in every message and field, and hands the rest to
 * the user's logger, or writes one line per event to stderr (`text` or `json`).
 */
export class XComLogger {
  readonly level: LogLevel
  readonly #target: Logger | undefined
  readonly #fieldsFirst: boolean
  readonly #format: LogFormat
  readonly #stream: LogStream

  constructor(options: { logger?: Logger; level?: LogLevel; format?: LogFormat; stream?: LogStream } = {}) {
    this.level = options.level ?? 'warn'
    this.#target = options.logger
    this.#fieldsFirst = options.logger !== undefined && takesFieldsFirst(options.logger)
    this.#format = options.format ?? 'text'
    this.#stream = options.stream ?? process.stderr
  }

  /** True when lines at `level` are written: skip building costly messages otherwise. */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return RANK[level] >= RANK[this.level]
  }

  debug(message: string, fields?: LogFields): void {
    this.#log('debug', message, fields)
  }

  info(message: string, fields?: LogFields): void {
    this.#log('info', message, fields)
  }

  warn(message: string, fields?: LogFields): void {
    this.#log('warn', message, fields)
  }

  error(message: string, fields?: LogFields): void {
    this.#log('error', message, fields)
  }

  #log(level: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return
    const text = maskText(message)
    const masked: Record<string, string | number | boolean> = {}
    for (const [name, value] of Object.entries(fields))
      if (value !== undefined) masked[name] = typeof value === 'string' ? maskText(value) : value
    const target = this.#target
    if (target) {
      const method = target[level] as (...args: unknown[]) => unknown
      if (this.#fieldsFirst) method.call(target, { logger: 'xcom', ...masked }, text)
      else method.call(target, text, masked)
      return
    }
    this.#stream.write(
      this.#format === 'json'
        ? `${JSON.stringify({ time: new Date().toISOString(), level, logger: 'xcom', msg: text, ...masked })}\n`
        : `xcom ${level}: ${text}${describeFields(masked)}\n`,
    )
  }
}

/** pino and bunyan take `(fields, message)`; console and winston `(message, fields)`. */
function takesFieldsFirst(logger: Logger): boolean {
  const candidate = logger as unknown as Record<string, unknown>
  return (
    typeof candidate.child === 'function' &&
    (typeof candidate.bindings === 'function' || typeof candidate.fields === 'object')
  )
}

function describeFields(fields: Record<string, string | number | boolean>): string {
  const entries = Object.entries(fields)
  return entries.length === 0 ? '' : ` (${entries.map(([name, value]) => `${name}=${value}`).join(' ')})`
}
