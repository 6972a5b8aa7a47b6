import type { Command } from 'commander'
import { type GlobalOptions, parseMapIndex } from './context.ts'
import type { CliIO, Output } from './output.ts'

/** What every command gets: where to write, the global flags, and the exit code to finish with. */
export interface App {
  io: CliIO
  out: Output
  /** The global flags (`--metadata-url`...), parsed. */
  globals(): GlobalOptions
  /** The code `main` returns when the command ends without throwing. */
  exitCode: number
}

/** Adds `--dag --run --task --key --map-index` (or those after `--dag` when the DAG is an argument). */
export function addFilters(command: Command, options: { dag?: boolean } = {}): Command {
  if (options.dag !== false) command.option('--dag <dagId>', 'only this DAG')
  return command
    .option('--run <runId>', 'only this run')
    .option('--task <taskId>', 'only this task')
    .option('--key <key>', 'only this key')
    .option('--map-index <n>', 'only this map index (-1: not mapped)', parseMapIndex)
}

/** Adds the examples shown at the end of `--help`. */
export function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`)
}
