import type { RotationReport } from '@xcom/core'
import type { Command } from 'commander'
import { type App, addFilters, examples } from '../app.ts'
import { type FilterOptions, queryOf, withXCom } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { toJson } from '../output.ts'
import { drawsProgress, startProgress } from '../progress.ts'

interface RotateKeysOptions extends FilterOptions {
  dryRun?: boolean
  json?: boolean
}

/** `xcom rotate-keys`: re-encrypts the selected XComs under the active key (the first of XCOM_ENCRYPTION_KEYS). */
export function registerRotateKeys(program: Command, app: App): void {
  const command = program
    .command('rotate-keys')
    .description(
      're-encrypt XComs under the active key (the first of XCOM_ENCRYPTION_KEYS), so older keys can be removed',
    )
    .option('--dry-run', 'only count what would be re-encrypted')
    .option('--json', 'print the report as JSON')
  addFilters(command)
  examples(command, [
    'xcom rotate-keys --dry-run     # with XCOM_ENCRYPTION_KEYS="<new id:key>,<old id:key>"',
    'xcom rotate-keys',
    'xcom rotate-keys --dag etl --run r1 --json',
  ])
  command.action(async (options: RotateKeysOptions) => {
    const query = queryOf(options)
    const dryRun = options.dryRun === true
    await withXCom(app.io, app.globals(), async (xcom) => {
      // Counted first with a dry run (rows only, no object read) so the bar has a total and an ETA: rewriting every
      // object can take hours, and a bare counter never says when it ends. A dry run is that count: no bar.
      const bar = !dryRun && drawsProgress(app.out)
      let total = bar ? (await xcom.rotateKeys(query, { dryRun: true })).scanned : 0
      const progress = bar ? startProgress(app.out, { total, label: 'rotate-keys' }) : undefined
      let report: RotationReport
      try {
        report = await xcom.rotateKeys(query, {
          dryRun,
          onProgress:
            progress &&
            (({ done }) => {
              // Rows pushed since the count would run the bar past its end.
              if (done > total) {
                total = done
                progress.setTotal(total)
              }
              progress.update(done)
            }),
        })
      } finally {
        progress?.stop()
      }
      if (report.failed.length > 0) app.exitCode = EXIT.problems
      if (options.json) return app.out.write(`${toJson(report, 2)}\n`)
      for (const line of describe(report)) app.out.line(line)
      if (report.failedPurges > 0)
        app.out.note(
          app.out.errColor.yellow(
            `${report.failedPurges} old value(s) could not be deleted and stay recorded: \`xcom gc\` retries them.`,
          ),
        )
      // Said only without filters: XComs outside a selection may still need the older keys.
      const everything = Object.keys(query).length === 0
      if (everything && !dryRun && report.rotated + report.current === report.scanned)
        app.out.note(
          app.out.errColor.dim(
            'every XCom is under the active key: the older keys can be removed from XCOM_ENCRYPTION_KEYS.',
          ),
        )
    })
  })
}

/** The summary lines: counts, then one line per XCom that failed. */
export function describe(report: RotationReport): string[] {
  const key = `key ${report.activeKeyId}`
  const skipped = report.malformed > 0 ? `; ${report.malformed} malformed (skipped)` : ''
  if (report.dryRun)
    return [
      `would re-encrypt ${report.rotated} of ${xcoms(report.scanned)} (${report.current} already under ${key})${skipped}`,
    ]
  return [
    `re-encrypted ${xcoms(report.rotated)} under ${key}; ${report.current} already current; ` +
      `${report.changed} changed meanwhile (left as pushed); ${report.failed.length} failed${skipped}`,
    ...report.failed.map((failure) => `${failure.xcom}: ${failure.code} ${oneLine(failure.message)}`),
  ]
}

function xcoms(count: number): string {
  return `${count} XCom${count === 1 ? '' : 's'}`
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}
