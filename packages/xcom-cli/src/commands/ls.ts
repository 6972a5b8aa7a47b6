import type { XComRecord } from '@xcom/core'
import type { Command } from 'commander'
import { type App, addFilters, examples } from '../app.ts'
import { type FilterOptions, queryOf, withXCom } from '../context.ts'
import { formatBytes, formatDate, toJson } from '../output.ts'

const HEAD = ['dag', 'run', 'task', 'map', 'key', 'location', 'size', 'stored', 'codec', 'created', 'expires']
/** Widths beyond which cells are cut (the location gets the most room), so pages of one listing line up. */
const MAX_WIDTHS = [24, 32, 24, 5, 24, 72, 10, 10, 8, 21, 21]

/** `xcom ls`: every XCom the filters select, a page at a time, as a table or JSON. */
export function registerLs(program: Command, app: App): void {
  const command = program
    .command('ls')
    .description('list XComs: where each value lives, its sizes, codec, creation and expiry')
    .option('--json', 'print a JSON array of rows (streamed: any number of rows)')
    .option('--page-size <n>', 'rows read from the database at a time', (text) => Number(text), 1000)
  addFilters(command)
  examples(command, [
    'xcom ls',
    'xcom ls --dag etl --run manual__2024-01-01',
    'xcom ls --dag etl --task extract --json | jq ".[].location"',
  ])
  command.action(async (options: FilterOptions & { json?: boolean; pageSize: number }) => {
    const limit = Number.isSafeInteger(options.pageSize) && options.pageSize > 0 ? options.pageSize : 1000
    await withXCom(app.io, app.globals(), async (xcom) => {
      let count = 0
      let widths: number[] | undefined
      if (options.json) app.out.write('[')
      for await (const records of xcom.pages(queryOf(options), { pageSize: limit })) {
        await app.out.drained()
        if (options.json) {
          for (const record of records) {
            app.out.write(`${count === 0 ? '\n' : ',\n'}  ${toJson(rowOf(record, xcom.display(record)))}`)
            count++
          }
          continue
        }
        const rows = records.map((record) => cells(rowOf(record, xcom.display(record))))
        if (rows.length === 0) continue
        widths ??= columnWidths(rows)
        app.out.line(app.out.table(HEAD, rows, { widths, header: count === 0 }))
        count += rows.length
      }
      if (options.json) app.out.write(count === 0 ? ']\n' : '\n]\n')
      else app.out.note(app.out.errColor.dim(`${count} XCom${count === 1 ? '' : 's'}`))
    })
  })
}

/** One row of `xcom ls --json`: the identity, where the value is, and what it costs. */
export interface ListedXCom {
  dagId: string
  runId: string
  taskId: string
  mapIndex: number
  key: string
  kind: 'inline' | 'reference' | 'malformed'
  location: string
  uri: string | undefined
  size: number
  storedSize: number
  codec: string
  createdAt: string
  expiresAt: string | undefined
  display: string
}

/** What `ls` shows of a record, read from the row alone (nothing is downloaded). */
export function rowOf(record: XComRecord, display: string): ListedXCom {
  const { value } = record
  const ref = value.kind === 'reference' ? value.ref : undefined
  const storedSize = typeof ref?.storedSize === 'number' ? ref.storedSize : value.size
  return {
    dagId: record.dagId,
    runId: record.runId,
    taskId: record.taskId,
    mapIndex: record.mapIndex,
    key: record.key,
    kind: value.kind,
    location: ref ? ref.uri : value.kind === 'malformed' ? `malformed: ${value.reason}` : 'inline',
    uri: ref?.uri,
    size: value.size,
    storedSize,
    codec: typeof ref?.codec === 'string' ? ref.codec : 'none',
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt?.toISOString(),
    display,
  }
}

function cells(row: ListedXCom): string[] {
  return [
    row.dagId,
    row.runId,
    row.taskId,
    String(row.mapIndex),
    row.key,
    row.location,
    formatBytes(row.size),
    formatBytes(row.storedSize),
    row.codec,
    formatDate(new Date(row.createdAt)),
    row.expiresAt ? formatDate(new Date(row.expiresAt)) : '-',
  ]
}

/** Column widths fitted to the first page and the header, within {@link MAX_WIDTHS}. */
function columnWidths(rows: string[][]): number[] {
  return HEAD.map((head, column) => {
    const widest = Math.max(head.length, ...rows.map((row) => (row[column] ?? '').length))
    return Math.min(widest, MAX_WIDTHS[column] ?? 24) + 2
  })
}
