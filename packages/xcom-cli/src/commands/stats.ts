import type { Command } from 'commander'
import { type App, addFilters, examples } from '../app.ts'
import { type FilterOptions, queryOf, withXCom } from '../context.ts'
import { formatBytes } from '../output.ts'

/** Counts and sizes of one DAG (or of all: `dagId` is `*`). */
export interface DagStats {
  dagId: string
  inline: number
  inlineBytes: number
  offloaded: number
  offloadedBytes: number
  /** Bytes the offloaded values take in the store (after compression). */
  storedBytes: number
  /** `storedBytes / offloadedBytes`; undefined without offloaded bytes. */
  compressionRatio: number | undefined
  malformed: number
}

/** `xcom stats`: how many values and bytes are inline or offloaded, and how well they compress, by DAG. */
export function registerStats(program: Command, app: App): void {
  const command = program
    .command('stats')
    .description('counts and bytes inline vs offloaded, and the compression ratio, by DAG')
    .option('--json', 'print the statistics as JSON')
  addFilters(command)
  examples(command, ['xcom stats', 'xcom stats --dag etl --json'])
  command.action(async (options: FilterOptions & { json?: boolean }) => {
    await withXCom(app.io, app.globals(), async (xcom) => {
      const byDag = new Map<string, DagStats>()
      const total = emptyStats('*')
      for await (const records of xcom.pages(queryOf(options))) {
        for (const record of records) {
          const stats = byDag.get(record.dagId) ?? emptyStats(record.dagId)
          byDag.set(record.dagId, stats)
          for (const target of [stats, total]) {
            const { value } = record
            if (value.kind === 'inline') {
              target.inline++
              target.inlineBytes += value.size
            } else if (value.kind === 'reference') {
              target.offloaded++
              target.offloadedBytes += value.size
              target.storedBytes +=
                typeof value.ref.storedSize === 'number' ? value.ref.storedSize : value.size
            } else target.malformed++
          }
        }
      }
      const rows = [...byDag.values(), total].map(withRatio)
      if (options.json) return app.out.json({ dags: rows.slice(0, -1), total: rows.at(-1) })
      const head = [
        'dag',
        'inline',
        'inline bytes',
        'offloaded',
        'offloaded bytes',
        'stored bytes',
        'ratio',
        'malformed',
      ]
      app.out.line(
        app.out.table(
          head,
          rows.map((row) => [
            row.dagId === '*' ? app.out.color.bold('total') : row.dagId,
            String(row.inline),
            formatBytes(row.inlineBytes),
            String(row.offloaded),
            formatBytes(row.offloadedBytes),
            formatBytes(row.storedBytes),
            row.compressionRatio === undefined ? '-' : row.compressionRatio.toFixed(2),
            String(row.malformed),
          ]),
        ),
      )
    })
  })
}

function emptyStats(dagId: string): DagStats {
  return {
    dagId,
    inline: 0,
    inlineBytes: 0,
    offloaded: 0,
    offloadedBytes: 0,
    storedBytes: 0,
    compressionRatio: undefined,
    malformed: 0,
  }
}

function withRatio(stats: DagStats): DagStats {
  return {
    ...stats,
    compressionRatio: stats.offloadedBytes > 0 ? stats.storedBytes / stats.offloadedBytes : undefined,
  }
}
