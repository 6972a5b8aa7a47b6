import type { XComIdentity } from '@xcom/core'
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

/** The `--key` and `--map-index` of a command naming one XCom. */
export interface IdentityOptions {
  key?: string
  mapIndex?: number
}

/** Adds `<dag> <run> <task> [--key] [--map-index]`: the arguments of a command naming one XCom (`get`, `push`). */
export function addIdentity(command: Command): Command {
  return command
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .argument('<task>', 'task id')
    .option('--key <key>', 'XCom key', 'return_value')
    .option('--map-index <n>', 'map index (-1: not mapped)', parseMapIndex, -1)
}

/** The XCom that {@link addIdentity}'s arguments name. */
export function identityOf(
  dagId: string,
  runId: string,
  taskId: string,
  options: IdentityOptions,
): XComIdentity {
  return { dagId, runId, taskId, key: options.key, mapIndex: options.mapIndex }
}

/** Adds the examples shown at the end of `--help`. */
export function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`)
}
