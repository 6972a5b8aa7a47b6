import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The package directory: the demo runs from here, so `XCom.fromEnv` finds the adapters it depends on. */
export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))

/** What a finished demo process left. */
export interface DemoResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `src/pipeline.ts` in a child process from its TypeScript sources, with only `env`'s xcom settings: every
 * `XCOM_*` / `AIRFLOW__*` / `AIRFLOW_CONN_*` variable of this process is dropped first.
 */
export function runDemo(args: string[], env: Record<string, string>): Promise<DemoResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(XCOM_|AIRFLOW_)/.test(name)),
  )
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=@xcom/source', 'src/pipeline.ts', ...args],
      { cwd: PACKAGE_DIR, env: { ...base, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
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
