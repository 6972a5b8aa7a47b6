/**
 * Scenario 1: the random workload with 10% of store calls faulted (every fault kind of @xcom/testing), then the
 * invariant check once the plan has stopped.
 */
import { faults } from '@xcom/testing'
import { checkInvariants, type InvariantReport, invariantsHold } from './invariants.ts'
import type { Stack } from './stacks.ts'
import { runWorkload, type WorkloadResult } from './workload.ts'

/** One fault workload's outcome. */
export interface FaultScenarioResult {
  stack: string
  seed: number
  rate: number
  workload: Omit<WorkloadResult, 'model'>
  invariants: InvariantReport
  /** True when nothing was lost, dangling, orphaned or unexplained. */
  ok: boolean
}

/** Runs `ops` operations on the stack `open` builds, with faults at `rate`, then checks the invariants. */
export async function runFaultScenario(
  open: (plan: ReturnType<typeof faults>) => Promise<Stack> | Stack,
  options: { seed: number; ops: number; rate?: number },
): Promise<FaultScenarioResult> {
  const rate = options.rate ?? 0.1
  const plan = faults({ seed: options.seed, rate })
  const stack = await open(plan)
  try {
    const { model, ...workload } = await runWorkload(stack, { seed: options.seed, ops: options.ops, plan })
    plan.stop() // from here on every call passes through: gc, then check
    const invariants = await checkInvariants(stack, model)
    workload.seenCommitted = model.committedDespiteFailure
    const ok = invariantsHold(invariants) && workload.lost.length === 0 && workload.unexplained.length === 0
    return { stack: stack.name, seed: options.seed, rate, workload, invariants, ok }
  } finally {
    await stack.close()
  }
}
