import { types } from 'node:util'
import { XComError } from '../errors.ts'
import { Failure } from './failure.ts'

const noop = () => {}

/** Whether `fn` was declared `async`: the walks are synchronous and cannot wait for the Promise it returns. */
export function isAsyncFunction(fn: unknown): boolean {
  try {
    return typeof fn === 'function' && fn.constructor?.name === 'AsyncFunction'
  } catch {
    // a proxy with a throwing trap: not an async function we can recognise
    return false
  }
}

/**
 * Refuses an `async` hook at registration.
 * @throws XComError `E_CONFIG` when `fn` is an async function.
 */
export function refuseAsyncHook(fn: unknown, hook: string, owner: string): void {
  if (isAsyncFunction(fn)) {
    throw new XComError(
      'E_CONFIG',
      `Cannot register ${owner}: its ${hook}() is an async function, but serialization is synchronous. Make ${hook}() return its result directly (load what it needs before pushing or after pulling).`,
    )
  }
}

/**
 * Refuses a hook result that is a Promise or another thenable, with the failure `E_CONFIG`. A native Promise first
 * gets a no-op rejection handler and nothing else, so its rejection cannot end the process as unhandled.
 */
export function refuseThenable(result: unknown, hook: string, owner: string): void {
  if ((typeof result !== 'object' && typeof result !== 'function') || result === null) return
  let then: unknown
  try {
    then = (result as { then?: unknown }).then
  } catch {
    return
  }
  if (typeof then !== 'function') return
  if (types.isPromise(result)) {
    try {
      Promise.prototype.then.call(result, undefined, noop)
    } catch {
      // a Promise with a broken constructor: nothing more we can do for it
    }
  }
  throw new Failure(
    'E_CONFIG',
    `the ${hook}() of ${owner} returned a Promise (or another thenable), but serialization is synchronous. Make ${hook}() return its result directly, not a Promise.`,
  )
}
