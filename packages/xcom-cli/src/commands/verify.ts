import { formatIdentity, type XCom, XComError, type XComRecord } from '@xcom/core'
import { mapLimit } from '@xcom/core/adapter'
import type { Command } from 'commander'
import { type App, addFilters, examples } from '../app.ts'
import { type FilterOptions, queryOf, withXCom } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { toJson } from '../output.ts'
import { startProgress } from '../progress.ts'
import { drain } from '../streams.ts'

/** The outcome of verifying one XCom. */
export type VerifyStatus = 'ok' | 'expired' | 'missing' | 'corrupt' | 'error'

/** One XCom checked by `xcom verify`. */
export interface VerifyResult {
  xcom: string
  location: string
  status: VerifyStatus
  code?: string
  message?: string
}

/** `xcom verify`: reads every selected value back, checking sizes and checksums. */
export function registerVerify(program: Command, app: App): void {
  const command = program
    .command('verify')
    .description('read every selected value back and check its size and checksum: ok, missing or corrupt')
    .option('--json', 'print a JSON array of results')
    .option('--problems', 'print only the XComs that are not ok')
    .option('--concurrency <n>', 'values read at once', (text) => Number(text), 4)
  addFilters(command)
  examples(command, ['xcom verify', 'xcom verify --dag etl --run r1', 'xcom verify --json --problems'])
  command.action(
    async (options: FilterOptions & { json?: boolean; problems?: boolean; concurrency: number }) => {
      const concurrency =
        Number.isSafeInteger(options.concurrency) && options.concurrency > 0 ? options.concurrency : 4
      const query = queryOf(options)
      await withXCom(app.io, app.globals(), async (xcom) => {
        let total = 0
        // Counting first costs a pass over rows only, and is done only when a bar will be drawn.
        if (app.io.stderr.isTTY) for await (const records of xcom.pages(query)) total += records.length
        const progress = startProgress(app.out, { total, label: 'verify' })
        const counts: Record<VerifyStatus, number> = { ok: 0, expired: 0, missing: 0, corrupt: 0, error: 0 }
        let printed = 0
        if (options.json) app.out.write('[')
        try {
          for await (const records of xcom.pages(query)) {
            await app.out.drained()
            // Read in parallel (stores answer slowly, not heavily), printed in the listing's order.
            const results = await mapLimit(records, concurrency, async (record) => {
              const result = await verifyRecord(xcom, record)
              progress.increment()
              return result
            })
            for (const result of results) {
              counts[result.status]++
              if (options.problems && (result.status === 'ok' || result.status === 'expired')) continue
              if (options.json) app.out.write(`${printed === 0 ? '\n' : ',\n'}  ${toJson(result)}`)
              else app.out.line(lineOf(app, result))
              printed++
            }
          }
        } finally {
          progress.stop()
        }
        if (options.json) app.out.write(printed === 0 ? ']\n' : '\n]\n')
        const bad = counts.missing + counts.corrupt + counts.error
        const summary = `${counts.ok} ok, ${counts.missing} missing, ${counts.corrupt} corrupt, ${counts.error} unreadable${counts.expired ? `, ${counts.expired} expired (not read)` : ''}`
        app.out.note(bad > 0 ? app.out.errColor.red(summary) : app.out.errColor.green(summary))
        if (bad > 0) app.exitCode = EXIT.problems
      })
    },
  )
}

/**
 * Reads one value the way `pull` does, so the backend checks size and checksum: referenced values are streamed and
 * drained (nothing is held in memory), inline ones decoded.
 */
export async function verifyRecord(xcom: XCom, record: XComRecord): Promise<VerifyResult> {
  const location = record.value.kind === 'reference' ? record.value.ref.uri : record.value.kind
  const xcomName = formatIdentity(record)
  // An expired value is no longer pulled and waits for purgeExpired(): nothing to read, nothing wrong.
  if (record.expiresAt && record.expiresAt.getTime() <= Date.now())
    return { xcom: xcomName, location, status: 'expired' }
  try {
    if (record.value.kind === 'reference' && xcom.backend.openStream) {
      // Drained, not kept: the stream checks the size and checksum at its end.
      await drain(await xcom.pullStream(record))
    } else {
      await xcom.pull(record)
    }
    return { xcom: xcomName, location, status: 'ok' }
  } catch (error) {
    const code = XComError.is(error) ? error.code : undefined
    const status: VerifyStatus =
      code === 'E_NOT_FOUND' ? 'missing' : code === 'E_CORRUPT' ? 'corrupt' : 'error'
    const message = error instanceof Error ? error.message.replace(/\s*\n\s*/g, ' ') : String(error)
    return { xcom: xcomName, location, status, ...(code ? { code } : {}), message }
  }
}

function lineOf(app: App, result: VerifyResult): string {
  const c = app.out.color
  const label = { ok: c.green, expired: c.dim, missing: c.red, corrupt: c.red, error: c.yellow }[
    result.status
  ](result.status.padEnd(8))
  if (result.status === 'ok' || result.status === 'expired')
    return `${label}${result.xcom}  ${c.dim(result.location)}`
  return `${label}${result.xcom}  ${result.code ?? 'error'}: ${result.message}`
}
