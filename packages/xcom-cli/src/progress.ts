import cliProgress from 'cli-progress'
import { colorsEnabled, type Output, type OutputStream } from './output.ts'

/** A progress bar, or nothing at all when it must not be drawn. */
export interface Progress {
  /** Moves the bar to `value` (of the total). */
  update(value: number): void
  /** Adds `delta` to the value. */
  increment(delta?: number): void
  /** Sets a new total (when it becomes known). */
  setTotal(total: number): void
  /** Wipes the bar's line so a line of results can take it; the bar is drawn again below at its next tick. */
  clear(): void
  /** Removes the bar from the terminal. */
  stop(): void
}

const NONE: Progress = { update() {}, increment() {}, setTotal() {}, clear() {}, stop() {} }

/** Whether {@link startProgress} draws a bar: stderr is a terminal and `CI` is unset. */
export function drawsProgress(out: Output): boolean {
  const terminal = out.io.stderr as OutputStream & { cursorTo?: unknown }
  return terminal.isTTY === true && typeof terminal.cursorTo === 'function' && !out.io.env.CI
}

/**
 * A bar on stderr, drawn only when stderr is a terminal: piped or redirected output, CI logs and `--json` consumers get
 * no control characters. `unit: 'bytes'` shows sizes, otherwise counts.
 */
export function startProgress(
  out: Output,
  options: { total: number; label: string; unit?: 'bytes' | 'items' },
): Progress {
  const io = out.io
  const terminal = io.stderr as OutputStream & { cursorTo?: unknown }
  if (!drawsProgress(out)) return NONE
  const color = colorsEnabled(io.stderr, io.env)
  const bytes = options.unit === 'bytes'
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr as NodeJS.WriteStream,
      format: `${options.label} {bar} {percentage}% | ${bytes ? '{done}/{all}' : '{value}/{total}'} | {eta_formatted}`,
      barCompleteChar: color ? '\u2588' : '#',
      barIncompleteChar: color ? '\u2591' : '-',
      hideCursor: true,
      clearOnComplete: true,
      // Results printed to the same terminal wipe the bar's line (see clear); it must then be drawn again, and
      // wrapping stays on so those results are not cut at the terminal's width.
      forceRedraw: true,
      linewrap: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  )
  const payload = (value: number, total: number) => ({ done: mib(value), all: mib(total) })
  let value = 0
  let total = options.total
  bar.start(total, 0, payload(0, total))
  const progress: Progress = {
    update(next) {
      value = next
      bar.update(value, payload(value, total))
    },
    increment(delta = 1) {
      value += delta
      bar.update(value, payload(value, total))
    },
    setTotal(next) {
      total = next
      bar.setTotal(total)
    },
    clear() {
      terminal.write('\r\u001b[2K')
    },
    stop() {
      bar.stop()
      out.progress = undefined
    },
  }
  out.progress = progress
  return progress
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}
