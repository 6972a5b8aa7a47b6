import { XComError, type XComErrorOptions } from '@xcom/core'
import type { InjectedFault } from './plan.ts'

// The errors the plans made: lets a workload tell an injected failure from a real one without parsing messages.
const injectedErrors = new WeakSet<object>()

const WHAT_HAPPENED: Record<InjectedFault['kind'], string> = {
  fail: 'failed (nothing was done)',
  delay: 'was delayed',
  timeout: 'timed out (nothing was done)',
  failAfterWrite: 'failed after the object was written (the object exists)',
  truncate: 'returned truncated bytes',
  corrupt: 'returned a flipped byte',
  failBeforeCommit: 'failed before COMMIT (nothing was committed)',
  lostAfterCommit: 'lost its connection after COMMIT (the change is committed)',
}

/**
 * The `E_BACKEND` {@link XComError} an injected fault throws: transient-looking, naming the operation, its target,
 * the fault and the plan's call index, so a failing run can be replayed.
 */
export function injectedError(fault: InjectedFault, options: XComErrorOptions = {}): XComError {
  const waited = fault.kind === 'timeout' ? ` after ${fault.delayMs} ms` : ''
  const error = new XComError(
    'E_BACKEND',
    `${fault.operation} of ${fault.target || '(no target)'} ${WHAT_HAPPENED[fault.kind]}${waited}: a fault injected by @xcom/testing (kind ${fault.kind}, call ${fault.callIndex}). Retry, or stop the fault plan.`,
    options,
  )
  injectedErrors.add(error)
  return error
}

/** True when `error` was thrown by a fault of a {@link FaultPlan} (not by the wrapped store). */
export function isInjectedFault(error: unknown): boolean {
  return typeof error === 'object' && error !== null && injectedErrors.has(error)
}
