/**
 * `@xcom/cli`: the `xcom` command. {@link main} runs one command line, in process, and returns its exit code.
 */
import { run } from './cli.ts'
import type { CliIO } from './output.ts'

export { EXIT } from './exit-codes.ts'
export type { CliIO, OutputStream } from './output.ts'

/**
 * Runs the `xcom` command line `argv` (as `process.argv`: node, script, then arguments) and resolves to its exit code
 * (see the README); it never calls `process.exit`. `io` defaults to the process's streams and environment.
 */
export function main(argv: readonly string[], io?: Partial<CliIO>): Promise<number> {
  return run(argv, {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    stdin: io?.stdin ?? process.stdin,
    env: io?.env ?? process.env,
  })
}
