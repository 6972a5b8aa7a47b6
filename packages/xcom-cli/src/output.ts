import Table from 'cli-table3'
import picocolors from 'picocolors'

/** A stream the command writes to: `process.stdout`, or a test's own collector. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown
  isTTY?: boolean
}

/** Where a command reads and writes, and the environment it is configured from. */
export interface CliIO {
  stdout: OutputStream
  stderr: OutputStream
  stdin: AsyncIterable<Uint8Array | string> & { isTTY?: boolean }
  env: Record<string, string | undefined>
}

/** The colour functions of picocolors, on or off. */
export type Colors = ReturnType<typeof picocolors.createColors>

/**
 * Colours only for a terminal: off when the stream is not a TTY, when NO_COLOR is set to anything non-empty
 * (https://no-color.org) or TERM is `dumb`.
 */
export function colorsEnabled(stream: OutputStream, env: CliIO['env']): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb'
}

/** Writes results to stdout and diagnostics to stderr, each coloured only where {@link colorsEnabled} allows. */
export class Output {
  readonly io: CliIO
  /** Colours for stdout. */
  readonly color: Colors
  /** Colours for stderr. */
  readonly errColor: Colors
  /** The progress bar on screen, if any: lines written meanwhile clear it first, so they never land in it. */
  progress: { clear(): void } | undefined

  constructor(io: CliIO) {
    this.io = io
    this.color = picocolors.createColors(colorsEnabled(io.stdout, io.env))
    this.errColor = picocolors.createColors(colorsEnabled(io.stderr, io.env))
  }

  /** Results text as is (no newline added). */
  write(text: string): void {
    this.progress?.clear()
    this.io.stdout.write(text)
  }

  /** One line of results. */
  line(text = ''): void {
    this.progress?.clear()
    this.io.stdout.write(`${text}\n`)
  }

  /**
   * Waits until stdout has taken what was written, when it asks to (a slow pipe): a long listing then never piles up
   * in memory. Called between pages.
   */
  async drained(): Promise<void> {
    const stream = this.io.stdout as OutputStream & {
      writableNeedDrain?: boolean
      once?: (event: 'drain', listener: () => void) => unknown
    }
    if (stream.writableNeedDrain && stream.once)
      await new Promise<void>((done) => stream.once?.('drain', done))
  }

  /** One line of diagnostics (warnings, summaries of what was done). */
  note(text: string): void {
    this.progress?.clear()
    this.io.stderr.write(`${text}\n`)
  }

  /** A value as indented JSON (dates as ISO strings, bigints as decimal strings). */
  json(value: unknown): void {
    this.line(toJson(value, 2))
  }

  /** A table of rows; cells are cut to `widths` when given, so pages of one listing line up. */
  table(head: string[], rows: string[][], options: { widths?: number[]; header?: boolean } = {}): string {
    const table = new Table({
      head: options.header === false ? [] : head.map((cell) => this.color.bold(cell)),
      style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
      chars: BORDERLESS,
      ...(options.widths ? { colWidths: options.widths } : {}),
    })
    table.push(...rows)
    return table.toString()
  }
}

/** No borders: tables read as aligned columns, which `grep` and `cut` handle too. */
const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '',
}

/** JSON text with dates as ISO strings and bigints as decimal strings (JSON.stringify throws on bigints). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? item.toString() : item), indent)
}

/** A byte count for people: `812 B`, `1.4 KiB`, `3.0 GiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** A date as `2024-01-01 12:00:00Z`, or `-`. */
export function formatDate(date: Date | undefined): string {
  if (!date) return '-'
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`
}
