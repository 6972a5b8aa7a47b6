import { type XCom, XComError, type XComIdentity, type XComKey, type XComRecord } from '@xcom/core'
import { resolveIdentity } from '@xcom/core/adapter'
import { expect } from 'vitest'

/** What {@link expectDamagedRowsHandled} checks: an XCom over a database whose rows a test has damaged. */
export interface DamagedRows {
  xcom: XCom
  /** How many rows the database holds after the damage. */
  rows: number
  /** The identities pushed before the damage; the first two are pushed again over whatever they hold now. */
  keys: readonly XComIdentity[]
  /** The values whose rows the damage left alone. */
  untouched: readonly { key: XComIdentity; value: unknown }[]
}

/**
 * Checks the promises the API makes over damaged rows (a metadata store's fuzz tests call it after each damage):
 * every failure is a coded XComError, `list` shows every row and pages without looping, a malformed row pulls as
 * `E_CORRUPT` naming the XCom, untouched rows pull their exact values, pushing over a damaged row replaces it, `gc`
 * leaves no malformed purge queued, and `clear` of every dagId an identity can name removes its rows.
 * @returns the dagIds it cleared, for the caller to check in the database that none of their rows is left.
 */
export async function expectDamagedRowsHandled({
  xcom,
  rows,
  keys,
  untouched,
}: DamagedRows): Promise<string[]> {
  const listed = await xcom.list({}, { limit: 1000 })
  expect(listed.records).toHaveLength(rows)
  const paged: XComRecord[] = []
  let next: string | undefined
  do {
    expect(paged.length).toBeLessThanOrEqual(rows) // a cursor that does not advance would loop for ever
    const page = await xcom.list({}, { limit: 2, after: next })
    paged.push(...page.records)
    next = page.next
  } while (next !== undefined)
  expect(paged).toEqual(listed.records)

  const named = listed.records.filter(addressable)
  for (const record of named) {
    const pulled = await settle(() => xcom.pull(keyOf(record)))
    const current = await xcom.metadata.get(keyOf(record))
    const expired = current?.expiresAt !== undefined && current.expiresAt.getTime() <= Date.now()
    if (current?.value.kind === 'malformed' && !expired) {
      expect('error' in pulled && pulled.error.code).toBe('E_CORRUPT')
      expect('error' in pulled && pulled.error.xcom).toBeTruthy()
    }
  }
  for (const { dagId, runId } of keys) await settle(() => xcom.pullMany({ dagId, runId }))

  // Pushing over a damaged row replaces it, whatever it holds.
  const repushed = keys.slice(0, 2).map((key, index) => ({ key, value: { again: index } }))
  for (const { key, value } of repushed) await xcom.push(key, value)
  const expectUntouched = async () => {
    for (const { key, value } of [
      ...untouched.filter((one) => !keys.slice(0, 2).includes(one.key)),
      ...repushed,
    ])
      expect(await xcom.pull(key)).toEqual(value)
  }
  await expectUntouched()
  await expectNoMalformedPurge(xcom)
  await expectUntouched()

  const dagIds = [...new Set(named.map((record) => record.dagId))]
  for (const dagId of dagIds) await xcom.clear({ dagId })
  await expectNoMalformedPurge(xcom)
  return dagIds
}

/** Runs `gc` and checks no malformed record is left in the purge queue. */
async function expectNoMalformedPurge(xcom: XCom): Promise<void> {
  await xcom.gc({ graceMs: 0 })
  const pending = await xcom.metadata.pendingPurges(1000)
  expect(pending.filter((purge) => purge.record.value.kind === 'malformed')).toEqual([])
}

/** The result of `call`, or its error, which must be a coded XComError. */
async function settle<T>(call: () => Promise<T>): Promise<{ value: T } | { error: XComError }> {
  try {
    return { value: await call() }
  } catch (error) {
    expect(XComError.is(error), String((error as Error)?.stack ?? error)).toBe(true)
    expect((error as XComError).code).toMatch(/^E_[A-Z_]+$/)
    return { error: error as XComError }
  }
}

function keyOf(record: XComRecord): XComKey {
  const { dagId, runId, taskId, mapIndex, key } = record
  return { dagId, runId, taskId, mapIndex, key }
}

/** Whether an identity could name this record (a damaged one may hold no valid identifier). */
function addressable(record: XComRecord): boolean {
  try {
    resolveIdentity(keyOf(record))
    return true
  } catch {
    return false
  }
}
