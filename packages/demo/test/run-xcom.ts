import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type ChildResult, runNode } from './run-demo.ts'

/** The `xcom` binary of the `@xcom/cli` the demo depends on, from its TypeScript sources. */
const BIN = join(dirname(createRequire(import.meta.url).resolve('@xcom/cli/package.json')), 'src', 'bin.ts')

/**
 * Runs the real `xcom` command in a child process, in the demo's folder (where `XCom.fromEnv` finds the adapters, as
 * in a user's project), with only `env` and PATH/HOME: no XCOM_* variable of the test process leaks in.
 */
export function runXCom(args: string[], env: Record<string, string>): Promise<ChildResult> {
  return runNode([BIN, ...args], { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env })
}

/** The variables of the `export NAME=value ...` line the demo prints for the `xcom` command. */
export function exportedSettings(stdout: string): Record<string, string> {
  const line = /^\s*export (XCOM_.*)$/m.exec(stdout)?.[1]
  if (!line) throw new Error(`no export line in the demo's output:\n${stdout}`)
  const env: Record<string, string> = {}
  for (const [, name, quoted, plain] of line.matchAll(/(\w+)=(?:'((?:[^']|'\\'')*)'|(\S+))/g))
    env[name!] = quoted === undefined ? plain! : quoted.replaceAll("'\\''", "'")
  return env
}
