import { createRequire } from 'node:module'
import { Command, CommanderError } from 'commander'
import type { App } from './app.ts'
import { registerClear } from './commands/clear.ts'
import { registerConfig } from './commands/config.ts'
import { registerDoctor } from './commands/doctor.ts'
import { registerGc } from './commands/gc.ts'
import { registerGet } from './commands/get.ts'
import { registerLs } from './commands/ls.ts'
import { registerPush } from './commands/push.ts'
import { registerRotateKeys } from './commands/rotate-keys.ts'
import { registerStats } from './commands/stats.ts'
import { registerVerify } from './commands/verify.ts'
import { type GlobalOptions, OVERRIDES } from './context.ts'
import { EXIT, errorLine, exitCodeOf } from './exit-codes.ts'
import { type CliIO, Output } from './output.ts'

const VERSION: string = createRequire(import.meta.url)('../package.json').version

/** Runs one command line and returns its exit code; errors become one line on stderr. */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const program = new Command('xcom')
  const app: App = {
    io,
    out: new Output(io),
    globals: () => program.opts<GlobalOptions>(),
    exitCode: EXIT.ok,
  }
  program
    .description(
      'Inspect and manage XComs: configured like the library (XCOM_* / AIRFLOW_* variables); flags override them.',
    )
    .version(VERSION, '-V, --version')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // One line, like every other error: commander's own hints go on the same line.
      outputError: (text, write) =>
        write(
          `xcom: ${text
            .trim()
            .replace(/^error: /, '')
            .split(/\s*\n\s*/)
            .join(' ')} (see --help)\n`,
        ),
    })
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .showSuggestionAfterError()
  for (const override of OVERRIDES)
    program.option(override.flag, `${override.description} (${override.variable})`)
  program.option(
    '-v, --verbose',
    'debug logs on stderr (XCOM_LOG_LEVEL=debug; XCOM_LOG_FORMAT=json for JSON lines)',
  )
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 a check found problems or some XComs failed, 2 usage error, 3 E_CONFIG, 4 E_NOT_FOUND, 5 E_CORRUPT,
6 E_PERMISSION_DENIED, 10 another XComError, 70 unexpected error.

Examples:
  $ xcom ls --dag etl
  $ xcom get etl manual__2024-01-01 extract
  $ XCOM_METADATA_URL=postgres://xcom@db/airflow xcom doctor
  $ xcom --path s3://aws@bucket/xcom verify --dag etl
  $ xcom --verbose get etl r1 extract`,
  )
  for (const register of [
    registerLs,
    registerGet,
    registerPush,
    registerClear,
    registerGc,
    registerRotateKeys,
    registerVerify,
    registerStats,
    registerConfig,
    registerDoctor,
  ])
    register(program, app)
  try {
    await program.parseAsync(argv as string[], { from: 'node' })
    return app.exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end through here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    io.stderr.write(`${errorLine(error)}\n`)
    return exitCodeOf(error)
  }
}
