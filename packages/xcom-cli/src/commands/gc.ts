import { spinner } from '@clack/prompts'
import type { GcProgress, GcReport } from '@xcom/core'
import type { Command } from 'commander'
import { type App, examples } from '../app.ts'
import { parseDuration, withXCom } from '../context.ts'
import { toJson } from '../output.ts'

interface GcOptions {
  grace: number
  dryRun?: boolean
  json?: boolean
}

/** `xcom gc`: retries failed purges and sweeps unreferenced objects, or says what it would do. */
export function registerGc(program: Command, app: App): void {
  const command = program
    .command('gc')
    .description('retry failed purges and delete objects no XCom references (older than the grace period)')
    .option(
      '--grace <duration>',
      'keep objects younger than this: pushes may be in flight',
      parseDuration,
      3_600_000,
    )
    .option('--dry-run', 'only say what would be deleted')
    .option('--json', 'print the report as JSON')
  examples(command, ['xcom gc --dry-run', 'xcom gc --grace 24h', 'xcom gc --json'])
  command.action(async (options: GcOptions) => {
    await withXCom(app.io, app.globals(), async (xcom) => {
      const dryRun = options.dryRun === true
      const report = await withSpinner(app, dryRun ? 'counting' : 'collecting garbage', (onProgress) =>
        xcom.gc({ graceMs: options.grace, dryRun, onProgress }),
      )
      if (options.json) return app.out.write(`${toJson(report, 2)}\n`)
      for (const line of describe(report)) app.out.line(line)
      if (report.purgesFailed > 0 || (report.sweep?.failed.length ?? 0) > 0)
        app.out.note(
          app.out.errColor.yellow('some deletions failed: they are retried at the next `xcom gc`.'),
        )
    })
  })
}

function describe(report: GcReport): string[] {
  if (report.dryRun) {
    const lines = [`would retry ${report.purgesRetried} recorded purge(s)`]
    const sweep = report.sweep
    if (!sweep) lines.push('the backend keeps no objects of its own: nothing to sweep')
    else {
      lines.push(`would delete ${sweep.deleted} unreferenced object(s) of ${sweep.scanned} scanned`)
      if (sweep.foreign) lines.push(`would leave ${sweep.foreign} object(s) of another database alone`)
    }
    return lines
  }
  const lines = [`retried ${report.purgesRetried} recorded purge(s), ${report.purgesFailed} failed again`]
  const sweep = report.sweep
  if (!sweep) lines.push('the backend keeps no objects of its own: nothing swept')
  else {
    lines.push(`scanned ${sweep.scanned} object(s), deleted ${sweep.deleted} unreferenced`)
    if (sweep.foreign) lines.push(`left ${sweep.foreign} object(s) of another database alone`)
    if (sweep.incomplete) lines.push(`removed ${sweep.incomplete} leftover(s) of interrupted writes`)
    for (const failed of sweep.failed) lines.push(`could not delete ${failed}`)
  }
  return lines
}

/**
 * A spinner on stderr while `work` runs, only on a terminal, counting what gc reports: the sweep's listing is not
 * counted beforehand, so there is no total to draw a bar against.
 */
async function withSpinner<T>(
  app: App,
  label: string,
  work: (onProgress: ((progress: GcProgress) => void) | undefined) => Promise<T>,
): Promise<T> {
  if (!app.io.stderr.isTTY || app.io.env.CI) return work(undefined)
  const spin = spinner({ output: app.io.stderr as NodeJS.WriteStream })
  spin.start(label)
  let scanned = 0
  let drawn = 0
  const onProgress = (progress: GcProgress) => {
    if (progress.phase === 'sweep') scanned = progress.done
    // Drawn at most every 100 ms: a sweep of millions of objects must not spend its time drawing.
    if (Date.now() - drawn < 100) return
    drawn = Date.now()
    spin.message(
      progress.phase === 'purges'
        ? `${label}: retried ${progress.done}/${progress.total} recorded purges`
        : `${label}: scanned ${progress.done} objects`,
    )
  }
  try {
    const result = await work(onProgress)
    spin.stop(`${label}: done, ${scanned} objects scanned`)
    return result
  } catch (error) {
    spin.stop(`${label}: failed after ${scanned} objects scanned`)
    throw error
  }
}
