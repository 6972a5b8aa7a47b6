import { confirm, isCancel } from '@clack/prompts'
import type { XComQuery } from '@xcom/core'
import type { Command } from 'commander'
import { type App, addFilters, examples } from '../app.ts'
import { type FilterOptions, queryOf, withXCom } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { toJson } from '../output.ts'

interface ClearOptions extends FilterOptions {
  dryRun?: boolean
  yes?: boolean
  json?: boolean
}

/** `xcom clear`: deletes rows and their objects, after asking unless `--yes`. */
export function registerClear(program: Command, app: App): void {
  const command = program
    .command('clear')
    .description('delete XComs of one DAG and purge their objects; asks first unless --yes')
    .argument('<dag>', 'DAG id')
    .option('--dry-run', 'only say what would be deleted')
    .option('-y, --yes', 'do not ask (needed when stdin is not a terminal)')
    .option('--json', 'print the outcome as JSON')
  addFilters(command, { dag: false })
  examples(command, [
    'xcom clear etl --run manual__2024-01-01 --dry-run',
    'xcom clear etl --run r1 --task extract',
    'xcom clear etl --yes',
  ])
  command.action(async (dagId: string, options: ClearOptions) => {
    const query: XComQuery & { dagId: string } = { ...queryOf(options), dagId }
    await withXCom(app.io, app.globals(), async (xcom) => {
      let rows = 0
      let objects = 0
      for await (const records of xcom.pages(query)) {
        rows += records.length
        objects += records.filter((record) => record.value.kind === 'reference').length
      }
      const what = `${rows} XCom${rows === 1 ? '' : 's'} (${objects} object${objects === 1 ? '' : 's'})`
      if (options.dryRun || rows === 0) {
        if (options.json)
          app.out.json({ dryRun: Boolean(options.dryRun), deleted: 0, wouldDelete: rows, objects })
        else app.out.line(rows === 0 ? 'nothing to clear' : `would delete ${what}`)
        return
      }
      if (!options.yes && !(await ask(app, `Delete ${what} of DAG ${dagId}?`))) {
        app.out.note('cancelled: nothing deleted')
        return
      }
      const report = await xcom.clear(query)
      if (options.json) {
        app.out.write(`${toJson({ dryRun: false, ...report }, 2)}\n`)
        return
      }
      app.out.line(
        `deleted ${report.deleted} XCom${report.deleted === 1 ? '' : 's'}, purged ${report.purged} object${report.purged === 1 ? '' : 's'}`,
      )
      if (report.failedPurges > 0)
        app.out.note(
          app.out.errColor.yellow(
            `${report.failedPurges} purge(s) failed and stay recorded: run \`xcom gc\` to retry them.`,
          ),
        )
    })
  })
}

/** Asks on the terminal; with no terminal to ask on, refuses rather than guess. */
async function ask(app: App, message: string): Promise<boolean> {
  if (!app.io.stdin.isTTY || !app.io.stderr.isTTY)
    throw new UsageError(`${message.replace(/\?$/, '')}: pass --yes to confirm (no terminal to ask on).`)
  const answer = await confirm({
    message,
    initialValue: false,
    input: app.io.stdin as NodeJS.ReadStream,
    output: app.io.stderr as NodeJS.WriteStream,
  })
  return !isCancel(answer) && answer === true
}
