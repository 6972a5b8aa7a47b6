import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sourceNodeFlags } from '@xcom/testing'

/** The package directory: the demo runs from here, so `XCom.fromEnv` finds the adapters it depends on. */
export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))

/** What a finished child process left. */
export interface ChildResult {
  code: number | null
  stdout: string
  stderr: string
  /** stdout as raw bytes (`xcom get --raw` of a binary value). */
  bytes: Buffer
}

/** Runs `node <flags> ...args` in `cwd` with exactly `env`, on the workspace's TypeScript sources. */
export function runNode(
  args: string[],
  env: Record<string, string>,
  cwd = PACKAGE_DIR,
): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...sourceNodeFlags(), ...args],
      { cwd, env, encoding: 'buffer', maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), bytes: stdout })
      },
    )
  })
}

/**
 * Runs `src/pipeline.ts` in a child process from its TypeScript sources, with only `env`'s xcom settings: every
 * `XCOM_*` / `AIRFLOW__*` / `AIRFLOW_CONN_*` variable of this process is dropped first.
 */
export function runDemo(args: string[], env: Record<string, string>): Promise<ChildResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => !/^(XCOM_|AIRFLOW_)/.test(entry[0]) && entry[1] !== undefined,
    ),
  )
  return runNode(['src/pipeline.ts', ...args], { ...base, ...env })
}

/** Every file under `dir`, relative and '/'-separated, sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort()
}

/** The run id a demo printed (`run manual__...: N orders`). */
export function runIdOf(stdout: string): string {
  const runId = /^run (manual__\S+): /m.exec(stdout)?.[1]
  if (!runId) throw new Error(`no run id in the demo's output:\n${stdout}`)
  return runId
}

/** The table line of an XCom: its task, map index and key columns, in that order, at the start of a line. */
export function tableLine(stdout: string, taskId: string, mapIndex: number, key: string): string | undefined {
  const pattern = new RegExp(`^${taskId}\\s+${mapIndex}\\s+${key}\\s`, 'm')
  const start = pattern.exec(stdout)?.index
  return start === undefined ? undefined : stdout.slice(start, stdout.indexOf('\n', start))
}
