import { printableConfig, readXComConfig } from '@xcom/core'
import type { Command } from 'commander'
import { type App, examples } from '../app.ts'
import { effectiveEnv } from '../context.ts'

/** One setting of `xcom config`. */
export interface ConfigRow {
  setting: string
  /** The value, secrets masked. */
  value: string
  /** The variable or flag it came from, or `default`. */
  source: string
}

/** `xcom config`: the effective configuration with secrets masked, and where each setting came from. */
export function registerConfig(program: Command, app: App): void {
  const command = program
    .command('config')
    .description('show the effective configuration (secrets masked) and where each setting came from')
    .option('--json', 'print the settings as JSON')
  examples(command, ['xcom config', 'xcom --path file:///tmp/xcom config --json'])
  command.action((options: { json?: boolean }) => {
    const rows = configRows(app)
    if (options.json) return app.out.json(rows)
    app.out.line(
      app.out.table(
        ['setting', 'value', 'from'],
        rows.map((row) => [row.setting, row.value, app.out.color.dim(row.source)]),
      ),
    )
  })
}

/** The settings as printed by the library (masked), with flags named as the source of what they override. */
export function configRows(app: App): ConfigRow[] {
  const { env, flags } = effectiveEnv(app.io.env, app.globals())
  return Object.entries(printableConfig(readXComConfig(env))).map(([setting, text]) => {
    // `value (from VAR)`, or `value (note; from VAR)` as the encryption keys' ids are shown.
    const match = /^(.*?)\s+\((?:([^()]*);\s*)?from ([^)]+)\)$/.exec(text)
    if (!match) return { setting, value: text, source: setting === 'connections' ? 'environment' : 'default' }
    const variable = match[3] as string
    const value = match[2] ? `${match[1]} (${match[2]})` : (match[1] as string)
    return { setting, value, source: flags.get(variable) ?? variable }
  })
}
