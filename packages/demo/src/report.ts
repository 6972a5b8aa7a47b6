import type { XCom, XComRecord } from '@xcom/core'

/** One XCom of a run as the table shows it, read from its row only (no value is downloaded). */
export interface RunRow {
  taskId: string
  mapIndex: number
  key: string
  /** `inline` (in the metadata database) or the object's URI. */
  where: string
  offloaded: boolean
  /** Serialized size in bytes, before compression. */
  size: number
  /** Bytes stored: the object's size, or the inline size. */
  storedSize: number
  /** `none`, or the codec of the object; `none (gzip skipped)` when compression did not pay. */
  codec: string
  /** How long the push took, in milliseconds, when the pipeline measured it. */
  pushMs: number | undefined
}

/** The key the pipeline's timings use for an XCom. */
export function timingKey(record: { taskId: string; mapIndex: number; key: string }): string {
  return `${record.taskId}\u0000${record.mapIndex}\u0000${record.key}`
}

/** Every row of one run, page by page, in the stable order (task, map index, key). */
export async function listRun(xcom: XCom, dagId: string, runId: string): Promise<XComRecord[]> {
  const records: XComRecord[] = []
  let after: string | undefined
  do {
    const page = await xcom.list({ dagId, runId }, { limit: 500, ...(after ? { after } : {}) })
    records.push(...page.records)
    after = page.next
  } while (after)
  return records
}

/** The run ids of a DAG that have XComs, in the order the metadata store lists them. */
export async function listRuns(xcom: XCom, dagId: string): Promise<string[]> {
  const runs = new Set<string>()
  let after: string | undefined
  do {
    const page = await xcom.list({ dagId }, { limit: 500, ...(after ? { after } : {}) })
    for (const record of page.records) runs.add(record.runId)
    after = page.next
  } while (after)
  return [...runs]
}

/** What a row says about where its value lives, from the reference fields `@xcom/objectstore` records. */
export function describeRecord(record: XComRecord, timings?: ReadonlyMap<string, number>): RunRow {
  const { taskId, mapIndex, key, value } = record
  const pushMs = timings?.get(timingKey(record))
  if (value.kind !== 'reference') {
    const where = value.kind === 'inline' ? 'inline' : `malformed: ${value.reason}`
    return {
      taskId,
      mapIndex,
      key,
      where,
      offloaded: false,
      size: value.size,
      storedSize: value.size,
      codec: 'none',
      pushMs,
    }
  }
  const ref = value.ref
  const storedSize = typeof ref.storedSize === 'number' ? ref.storedSize : value.size
  const codec = typeof ref.codec === 'string' ? ref.codec : 'none'
  const skipped = typeof ref.compressionSkipped === 'string' ? ` (${ref.compressionSkipped} skipped)` : ''
  return {
    taskId,
    mapIndex,
    key,
    where: ref.uri,
    offloaded: true,
    size: value.size,
    storedSize,
    codec: codec + skipped,
    pushMs,
  }
}

/** Bytes for people: `512 B`, `63.9 KiB`, `61.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

/** Milliseconds for people: `840 ms`, `3.2 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** The rows as a table of plain padded columns; the URI comes last, so long ones do not push the others. */
export function formatTable(rows: readonly RunRow[]): string {
  const header = ['task', 'map', 'key', 'size', 'stored', 'codec', 'push', 'where']
  const right = new Set([1, 3, 4, 6])
  const cells = rows.map((row) => [
    row.taskId,
    String(row.mapIndex),
    row.key,
    formatBytes(row.size),
    formatBytes(row.storedSize),
    row.codec,
    row.pushMs === undefined ? '-' : formatDuration(row.pushMs),
    row.where,
  ])
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((line) => line[column]?.length ?? 0)),
  )
  const format = (line: readonly string[]) =>
    line
      .map((cell, column) => {
        if (column === line.length - 1) return cell
        const width = widths[column] ?? 0
        return right.has(column) ? cell.padStart(width) : cell.padEnd(width)
      })
      .join('  ')
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...cells.map(format)].join('\n')
}

/** Totals of a run: how many values went to object storage and what compression saved on them. */
export interface RunSummary {
  xcoms: number
  offloaded: number
  /** Sum of the offloaded values' sizes before compression. */
  offloadedBytes: number
  /** Sum of their stored sizes. */
  storedBytes: number
  /** `offloadedBytes - storedBytes`. */
  savedBytes: number
}

/** Adds up the rows of a run. */
export function summarize(rows: readonly RunRow[]): RunSummary {
  const offloaded = rows.filter((row) => row.offloaded)
  const offloadedBytes = offloaded.reduce((sum, row) => sum + row.size, 0)
  const storedBytes = offloaded.reduce((sum, row) => sum + row.storedSize, 0)
  return {
    xcoms: rows.length,
    offloaded: offloaded.length,
    offloadedBytes,
    storedBytes,
    savedBytes: offloadedBytes - storedBytes,
  }
}

/** The summary line printed under the table. */
export function formatSummary(summary: RunSummary, elapsedMs: number): string {
  const percent = summary.offloadedBytes
    ? ` (${((summary.savedBytes / summary.offloadedBytes) * 100).toFixed(1)}%)`
    : ''
  return (
    `${summary.xcoms} XComs, ${summary.offloaded} offloaded to object storage ` +
    `(${formatBytes(summary.offloadedBytes)} -> ${formatBytes(summary.storedBytes)} stored), ` +
    `${formatBytes(summary.savedBytes)} saved by compression${percent}, run took ${formatDuration(elapsedMs)}`
  )
}
