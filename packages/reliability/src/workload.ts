/**
 * The random workload: push, overwrite, pull, pullMany, clear and gc over a small set of identities, one operation
 * at a time, checking every read against the {@link Model}. With a fault plan, a failed write is in doubt only when
 * the plan shows it may have committed; without one (a real service failing) every failed write is in doubt.
 */
import { XComError, type XComIdentity } from '@xcom/core'
import type { FaultKind, FaultPlan, InjectedFault } from '@xcom/testing'
import { ABSENT, Model } from './model.ts'
import type { Stack } from './stacks.ts'
import { fingerprint, makeValue, prng, type ValueShape } from './values.ts'

/** The operations the workload draws. */
export const OP_KINDS = ['push', 'overwrite', 'pull', 'pullMany', 'clear', 'gc'] as const
/** One of {@link OP_KINDS}. */
export type OpKind = (typeof OP_KINDS)[number]

const DAGS = ['d0', 'd1']
const RUNS = ['r0', 'r1', 'r2']
const TASKS = ['t0', 't1', 't2']
const MAPS = [-1, 0]

/** Options of {@link runWorkload}. */
export interface WorkloadOptions {
  seed: number
  ops: number
  /** The plan injecting faults into `stack.xcom`, or none when failures come from the services themselves. */
  plan?: FaultPlan
  /** Called before each operation (the restart scenarios time their outages on it). */
  beforeOp?: (index: number) => Promise<void> | void
}

/** What a workload did and saw. */
export interface WorkloadResult {
  ops: Record<OpKind, number>
  /** Operations that failed with a coded XComError while a fault (or outage) was in effect. */
  survived: number
  failed: Record<OpKind, number>
  /** Reads that returned a value no acknowledged or in-doubt write allows, or a row whose object was missing. */
  lost: string[]
  /** Failures that were not a coded XComError, or that no injected fault explains. */
  unexplained: string[]
  /** Writes reported failed that may have committed (kept in doubt by the model). */
  doubted: number
  /** Writes whose row change committed without a fault but that were reported failed by a later `resolvePurges`. */
  rejectedAfterCommit: number
  /** Of those, how many a later read found committed (set once the final check has read every identity). */
  seenCommitted: number
  /** Faults injected, by kind (all zero without a plan). */
  faults: Partial<Record<FaultKind, number>>
  /** The model, for the final check. */
  model: Model
  durationMs: number
}

/** The workload's key for an identity. */
export function idOf(identity: XComIdentity): string {
  return `${identity.dagId}/${identity.runId}/${identity.taskId}/${identity.mapIndex ?? -1}`
}

/** Every identity of one run, for pullMany. */
function runIdentities(dagId: string, runId: string): XComIdentity[] {
  return TASKS.flatMap((taskId) => MAPS.map((mapIndex) => ({ dagId, runId, taskId, mapIndex })))
}

/** Every identity the workload can touch. */
export function allIdentities(): XComIdentity[] {
  return DAGS.flatMap((dagId) => RUNS.flatMap((runId) => runIdentities(dagId, runId)))
}

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T

/** A pull that found no row (as opposed to a row whose object is missing, which is a loss). */
function isNoRow(error: unknown): boolean {
  return XComError.is(error, 'E_NOT_FOUND') && (error as Error).message.startsWith('No XCom')
}

/** Whether the faults of one operation may have committed a metadata write it reported failed. */
function mayHaveCommitted(faults: InjectedFault[]): boolean {
  return faults.some(
    (fault) =>
      (fault.kind === 'lostAfterCommit' && fault.operation !== 'metadata.resolvePurges') ||
      // The write itself committed; resolving the replaced value's purge failed after it.
      fault.operation === 'metadata.resolvePurges',
  )
}

/** Whether a write's only failure was `resolvePurges`, after its own row change went through unfaulted. */
function rejectedAfterCommit(faults: InjectedFault[]): boolean {
  const write = (fault: InjectedFault) =>
    fault.operation === 'metadata.put' || fault.operation === 'metadata.delete'
  return faults.some((fault) => fault.operation === 'metadata.resolvePurges') && !faults.some(write)
}

/** Runs the workload against `stack.xcom`. */
export async function runWorkload(stack: Stack, options: WorkloadOptions): Promise<WorkloadResult> {
  const { plan } = options
  const random = prng(options.seed)
  const model = new Model()
  const zero = () => Object.fromEntries(OP_KINDS.map((kind) => [kind, 0])) as Record<OpKind, number>
  const result: WorkloadResult = {
    ops: zero(),
    failed: zero(),
    survived: 0,
    lost: [],
    unexplained: [],
    doubted: 0,
    seenCommitted: 0,
    rejectedAfterCommit: 0,
    faults: {},
    model,
    durationMs: 0,
  }
  const started = performance.now()
  const xcom = stack.xcom
  for (let index = 0; index < options.ops; index++) {
    await options.beforeOp?.(index)
    const draw = random()
    const identity = pick(random, allIdentities())
    const id = idOf(identity)
    let kind: OpKind = 'gc'
    let affected: XComIdentity[] = [identity]
    let pushed: string | undefined
    const faultsBefore = plan?.injected.length ?? 0
    try {
      if (draw < 0.4) {
        kind = model.hasValue(id) ? 'overwrite' : 'push'
        const shape: ValueShape = pick(random, ['inline', 'inline', 'offloadedJson', 'offloadedBytes'])
        const value = makeValue(shape, `${options.seed}:${index}`, random)
        pushed = fingerprint(value)
        result.ops[kind]++
        await xcom.push(identity, value)
        model.acknowledge(id, pushed)
      } else if (draw < 0.75) {
        kind = 'pull'
        result.ops[kind]++
        let seen: string
        try {
          seen = fingerprint(await xcom.pull(identity))
        } catch (error) {
          if (!isNoRow(error)) throw error
          seen = ABSENT
        }
        if (!model.observe(id, seen))
          result.lost.push(`op ${index}: pull of ${id} returned a value never allowed`)
      } else if (draw < 0.85) {
        kind = 'pullMany'
        result.ops[kind]++
        const { dagId, runId } = identity
        const pulled = await xcom.pullMany({ dagId, runId })
        const seen = new Map(pulled.map((item) => [idOf(item), fingerprint(item.value)]))
        for (const each of runIdentities(dagId, runId)) {
          const eachId = idOf(each)
          if (!model.observe(eachId, seen.get(eachId) ?? ABSENT))
            result.lost.push(`op ${index}: pullMany saw ${eachId} with a value never allowed`)
        }
      } else if (draw < 0.97) {
        kind = 'clear'
        result.ops[kind]++
        const wholeRun = random() < 0.4
        const { dagId, runId, taskId, mapIndex } = identity
        affected = wholeRun ? runIdentities(dagId, runId) : [identity]
        await xcom.clear(wholeRun ? { dagId, runId } : { dagId, runId, taskId, mapIndex })
        for (const each of affected) model.acknowledge(idOf(each), ABSENT)
      } else {
        kind = 'gc'
        result.ops[kind]++
        await xcom.gc({ graceMs: 0 }) // sequential workload: no push is in flight, so no grace is needed
      }
    } catch (error) {
      result.failed[kind]++
      const opFaults = plan?.injected.slice(faultsBefore).filter((fault) => fault.kind !== 'delay') ?? []
      const explained = plan ? opFaults.length > 0 : true
      if (!XComError.is(error))
        result.unexplained.push(`op ${index} (${kind} ${id}): uncoded ${String(error)}`)
      else if (XComError.is(error, 'E_NOT_FOUND') && !isNoRow(error))
        result.lost.push(`op ${index} (${kind} ${id}): ${(error as Error).message}`)
      else if (!explained) result.unexplained.push(`op ${index} (${kind} ${id}): ${(error as Error).message}`)
      else result.survived++
      // A write reported failed is in doubt when it may have committed (always, when a real service failed).
      const inDoubt = plan ? mayHaveCommitted(opFaults) : true
      const write = pushed !== undefined || kind === 'clear'
      if (inDoubt && write) result.doubted++
      // The row change committed untouched; only the bookkeeping after it failed (see README, "Findings").
      if (write && rejectedAfterCommit(opFaults)) result.rejectedAfterCommit++
      if (inDoubt && pushed !== undefined) model.doubt(id, pushed)
      if (inDoubt && kind === 'clear') for (const each of affected) model.doubt(idOf(each), ABSENT)
    }
  }
  result.durationMs = performance.now() - started
  if (plan)
    for (const [kind, count] of Object.entries(plan.counts))
      if (count > 0) result.faults[kind as FaultKind] = count
  return result
}
