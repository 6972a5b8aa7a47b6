import { type CheckResult, checkBackend, checkMetadata, failedCheck, XCom } from '@xcom/core'
import { settle } from '@xcom/core/adapter'
import type { Command } from 'commander'
import { type App, examples } from '../app.ts'
import { effectiveEnv, OVERRIDES } from '../context.ts'
import { EXIT } from '../exit-codes.ts'

/** One preflight check (`@xcom/core`'s `CheckResult`): what `--json` prints a list of. */
export type Check = CheckResult

/** `xcom doctor`: opens the database and probes the object store, saying what is wrong and how to fix it. */
export function registerDoctor(program: Command, app: App): void {
  const command = program
    .command('doctor')
    .description(
      'preflight: the database opens with a current schema; the bucket exists and accepts write, read, delete',
    )
    .option('--json', 'print the checks as JSON')
  examples(command, ['xcom doctor', 'XCOM_METADATA_URL=postgres://xcom@db/airflow xcom doctor --json'])
  command.action(async (options: { json?: boolean }) => {
    const checks = await runChecks(app)
    if (options.json) app.out.json(checks)
    else {
      const c = app.out.color
      for (const check of checks) {
        app.out.line(`${check.ok ? c.green('ok  ') : c.red('FAIL')}  ${check.name}: ${check.detail}`)
        if (!check.ok && check.fix) app.out.line(`      ${c.yellow('fix:')} ${check.fix}`)
      }
    }
    if (checks.some((check) => !check.ok)) app.exitCode = EXIT.problems
  })
}

/**
 * `xcom.check()` on the XCom the environment builds. When it does not build, the database is checked alone (without
 * the backend variables) and the backend beside a throwaway in-memory database, so one broken service cannot hide the
 * state of the other.
 */
async function runChecks(app: App): Promise<Check[]> {
  const { env } = effectiveEnv(app.io.env, app.globals())
  const built = await settle(() => XCom.fromEnv(env, { logStream: app.io.stderr }))
  if (built.ok) return closing(built.value, async (xcom) => (await xcom.check()).checks)
  const databaseOnly = Object.fromEntries(
    Object.entries(env).filter(([name]) => !BACKEND_VARIABLES.has(name)),
  )
  const opened = await settle(() => XCom.fromEnv(databaseOnly, { logStream: app.io.stderr }))
  const database = opened.ok
    ? await closing(opened.value, (xcom) => checkMetadata(xcom.metadata))
    : { check: failedCheck('metadata database', opened.error, DATABASE_FIX), database: undefined }
  const checks = [database.check]
  const backend = await settle(() =>
    XCom.fromEnv({ ...env, XCOM_METADATA_URL: 'memory://' }, { logStream: app.io.stderr }),
  )
  if (!backend.ok)
    checks.push(
      failedCheck('backend', backend.error, 'check XCOM_BACKEND and the XCOM_OBJECTSTORAGE_* variables'),
    )
  else checks.push(...(await closing(backend.value, (xcom) => checkBackend(xcom.backend, database.database))))
  return checks
}

const DATABASE_FIX = 'check XCOM_METADATA_URL (or --metadata-url), that the server runs and accepts this user'

async function closing<T>(xcom: XCom, run: (xcom: XCom) => Promise<T>): Promise<T> {
  try {
    return await run(xcom)
  } finally {
    await xcom.close().catch(() => {})
  }
}

/** The variables that choose the backend: left out to check the database on its own. */
const BACKEND_VARIABLES = new Set([
  'XCOM_BACKEND',
  'AIRFLOW__CORE__XCOM_BACKEND',
  ...OVERRIDES.filter((override) => override.variable.startsWith('XCOM_OBJECTSTORAGE')).map(
    (o) => o.variable,
  ),
  'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH',
  'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD',
  'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION',
])
