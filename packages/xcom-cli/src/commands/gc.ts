import { spinner } from '@clack/prompts'
import type { GcReport, ObjectStore, XCom } from '@xcom/core'
import type { Command } from 'commander'
import { type App, examples } from '../app.ts'
import { pages, parseDuration, withXCom } from '../context.ts'
import { objectStoreLayout } from '../objectstore.ts'
import { toJson } from '../output.ts'
import { startProgress } from '../progress.ts'

interface GcOptions {
  grace: number
  dryRun?: boolean
  json?: boolean
}

/** What `xcom gc --dry-run` finds. */
export interface GcPlan {
  /** Recorded purges that gc would retry. */
  pendingPurges: number
  /** Objects of the backend's key layout that no row references and that are older than the grace period. */
  unreferencedObjects: number | undefined
  /** Objects listed. */
  scanned: number | undefined
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
      if (options.dryRun) {
        const plan = await planGc(app, xcom, options.grace)
        if (options.json) return app.out.json({ dryRun: true, ...plan })
        app.out.line(`would retry ${plan.pendingPurges} recorded purge(s)`)
        app.out.line(
          plan.unreferencedObjects === undefined
            ? 'the backend keeps no objects of its own: nothing to sweep'
            : `would delete ${plan.unreferencedObjects} unreferenced object(s) of ${plan.scanned} scanned`,
        )
        return
      }
      const report = await withSpinner(app, 'collecting garbage', () => xcom.gc({ graceMs: options.grace }))
      if (options.json) return app.out.write(`${toJson({ dryRun: false, ...report }, 2)}\n`)
      for (const line of describe(report)) app.out.line(line)
      if (report.purgesFailed > 0 || (report.sweep?.failed.length ?? 0) > 0)
        app.out.note(
          app.out.errColor.yellow('some deletions failed: they are retried at the next `xcom gc`.'),
        )
    })
  })
}

function describe(report: GcReport): string[] {
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
 * Counts what gc would delete without deleting, by the sweep's own rules: recorded purges, and objects of the
 * backend's layout that no row (or pending purge) names, not modified within the grace period, that name this
 * database (listings without metadata, such as S3's, are completed by a `head`).
 */
async function planGc(app: App, xcom: XCom, graceMs: number): Promise<GcPlan> {
  const pending = await xcom.metadata.pendingPurges(Number.MAX_SAFE_INTEGER)
  const store = (xcom.backend as { store?: ObjectStore }).store
  const layout = await objectStoreLayout(xcom.backend)
  if (!store || !layout)
    return { pendingPurges: pending.length, unreferencedObjects: undefined, scanned: undefined }
  const database = (await xcom.metadata.identity()).id
  const referenced = new Set(pending.map((purge) => purge.record.id.toLowerCase()))
  for await (const records of pages(xcom, {}))
    for (const record of records) referenced.add(record.id.toLowerCase())
  const cutoff = Date.now() - graceMs
  const progress = startProgress(app.out, { total: referenced.size, label: 'scan' })
  let scanned = 0
  let unreferenced = 0
  try {
    for await (const info of store.list('')) {
      if (!layout.isObjectKey(info.objectKey)) continue
      scanned++
      progress.update(Math.min(scanned, referenced.size))
      if (referenced.has(layout.recordIdOf(info.objectKey)) || info.lastModified.getTime() > cutoff) continue
      const metadata =
        Object.keys(info.metadata).length > 0 ? info.metadata : (await store.head(info.objectKey))?.metadata
      if (metadata?.[layout.DATABASE_META] === database) unreferenced++
    }
  } finally {
    progress.stop()
  }
  return { pendingPurges: pending.length, unreferencedObjects: unreferenced, scanned }
}

/** A spinner on stderr while `work` runs, only on a terminal: gc reports no progress of its own to draw a bar from. */
async function withSpinner<T>(app: App, label: string, work: () => Promise<T>): Promise<T> {
  if (!app.io.stderr.isTTY || app.io.env.CI) return work()
  const spin = spinner({ output: app.io.stderr as NodeJS.WriteStream })
  spin.start(label)
  try {
    const result = await work()
    spin.stop('done')
    return result
  } catch (error) {
    spin.stop('failed')
    throw error
  }
}
