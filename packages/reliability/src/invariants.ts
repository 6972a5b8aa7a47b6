/**
 * The check after a workload, once faults have stopped: gc with grace 0, then every identity reads a value the model
 * allows, every row's object exists and reads back verified, and every object belongs to a row or a pending purge.
 */
import { XComError } from '@xcom/core'
import { isObjectKey, recordIdOf } from '@xcom/objectstore'
import { ABSENT, type Model } from './model.ts'
import type { Stack } from './stacks.ts'
import { fingerprint } from './values.ts'
import { allIdentities, idOf } from './workload.ts'

/** What the final check found. */
export interface InvariantReport {
  /** Purges gc retried and objects its sweep deleted. */
  gc: { purgesRetried: number; purgesFailed: number; swept: number }
  rows: number
  referenceRows: number
  objects: number
  pendingPurges: number
  /** Rows whose object is missing or does not read back (must be empty). */
  dangling: string[]
  /** Objects no row or pending purge owns (must be empty). */
  orphans: string[]
  /** Identities whose final value is not one the model allows (must be empty). */
  lost: string[]
}

/** Runs gc (grace 0) on the stack's fault-free XCom, then checks rows, objects and values against `model`. */
export async function checkInvariants(stack: Stack, model: Model): Promise<InvariantReport> {
  const { clean, store } = stack
  const gc = await clean.gc({ graceMs: 0 })
  const report: InvariantReport = {
    gc: { purgesRetried: gc.purgesRetried, purgesFailed: gc.purgesFailed, swept: gc.sweep?.deleted ?? 0 },
    rows: 0,
    referenceRows: 0,
    objects: 0,
    pendingPurges: 0,
    dangling: [],
    orphans: [],
    lost: [],
  }
  for (const identity of allIdentities()) {
    const id = idOf(identity)
    let seen: string
    try {
      seen = fingerprint(await clean.pull(identity))
    } catch (error) {
      if (!(XComError.is(error, 'E_NOT_FOUND') && (error as Error).message.startsWith('No XCom'))) {
        report.lost.push(`${id}: final pull failed: ${(error as Error).message}`)
        continue
      }
      seen = ABSENT
    }
    if (!model.observe(id, seen)) report.lost.push(`${id}: final value is not one a write allowed`)
  }
  const owners = new Set<string>()
  for await (const page of clean.pages({}, { pageSize: 500 })) {
    for (const record of page) {
      report.rows++
      owners.add(record.id.toLowerCase())
      if (record.value.kind !== 'reference') continue
      report.referenceRows++
      const objectKey = String(record.value.ref.objectKey)
      if (!(await store.head(objectKey))) {
        report.dangling.push(`${idOf(record)} -> ${record.value.ref.uri} (missing)`)
        continue
      }
      try {
        await clean.pull(record)
      } catch (error) {
        report.dangling.push(`${idOf(record)} -> ${record.value.ref.uri} (${(error as Error).message})`)
      }
    }
  }
  for (const purge of await clean.metadata.pendingPurges(100_000)) {
    report.pendingPurges++
    owners.add(purge.record.id.toLowerCase())
  }
  for await (const info of store.list('')) {
    if (!isObjectKey(info.objectKey)) continue // the prefix claim and other non-value files
    report.objects++
    if (!owners.has(recordIdOf(info.objectKey))) report.orphans.push(info.objectKey)
  }
  return report
}

/** Whether a check found nothing wrong. */
export function invariantsHold(report: InvariantReport): boolean {
  return report.dangling.length === 0 && report.orphans.length === 0 && report.lost.length === 0
}
