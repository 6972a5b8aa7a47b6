import { XComError } from '@xcom/core'
import { seededRandom } from './prng.ts'

/**
 * What a fault does to a call:
 * - `fail`: throws `E_BACKEND` before the wrapped store is called (nothing happened);
 * - `delay`: waits a few milliseconds, then the call proceeds normally;
 * - `timeout`: waits, then throws `E_BACKEND` "timed out" without calling the wrapped store (nothing happened);
 * - `failAfterWrite` (object `put`): writes the object, then throws `E_BACKEND` (the object exists: an orphan);
 * - `truncate` (object `get`): the body ends early, cleanly, while `size` still says the full size;
 * - `corrupt` (object `get`): one byte of the body is flipped;
 * - `failBeforeCommit` (metadata writes): throws `E_BACKEND` before the wrapped store is called (nothing committed);
 * - `lostAfterCommit` (metadata writes): the wrapped store commits, then `E_BACKEND` "connection lost after COMMIT".
 */
export type FaultKind =
  | 'fail'
  | 'delay'
  | 'timeout'
  | 'failAfterWrite'
  | 'truncate'
  | 'corrupt'
  | 'failBeforeCommit'
  | 'lostAfterCommit'

/** Every {@link FaultKind}. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'fail',
  'delay',
  'timeout',
  'failAfterWrite',
  'truncate',
  'corrupt',
  'failBeforeCommit',
  'lostAfterCommit',
]

// Which kinds make sense where: a read cannot be "lost after COMMIT", a head cannot return truncated bytes.
const APPLICABLE = {
  'objects.put': ['fail', 'delay', 'timeout', 'failAfterWrite'],
  'objects.get': ['fail', 'delay', 'timeout', 'truncate', 'corrupt'],
  'objects.head': ['fail', 'delay', 'timeout'],
  'objects.deleteMany': ['fail', 'delay', 'timeout'],
  'objects.list': ['fail', 'delay', 'timeout'],
  'metadata.put': ['failBeforeCommit', 'lostAfterCommit', 'delay'],
  'metadata.delete': ['failBeforeCommit', 'lostAfterCommit', 'delay'],
  'metadata.resolvePurges': ['failBeforeCommit', 'lostAfterCommit', 'delay'],
  'metadata.replaceIf': ['failBeforeCommit', 'lostAfterCommit', 'delay'],
  'metadata.get': ['fail', 'delay'],
  'metadata.getMany': ['fail', 'delay'],
  'metadata.list': ['fail', 'delay'],
  'metadata.pendingPurges': ['fail', 'delay'],
  'metadata.identity': ['fail', 'delay'],
} as const satisfies Record<string, readonly FaultKind[]>

/** An operation the wrappers inject faults into: `objects.<method>` of an ObjectStore, `metadata.<method>` of a MetadataStore. */
export type FaultOperation = keyof typeof APPLICABLE

/** The method name of a {@link FaultOperation} (`put` stands for both `objects.put` and `metadata.put`). */
export type FaultMethod = FaultOperation extends `${string}.${infer Method}` ? Method : never

/** Every {@link FaultOperation}. */
export const FAULT_OPERATIONS = Object.keys(APPLICABLE) as readonly FaultOperation[]

/** The fault kinds that apply to `operation`. */
export function faultKindsOf(operation: FaultOperation): readonly FaultKind[] {
  return APPLICABLE[operation]
}

/**
 * A per-operation setting: keyed by a qualified operation (`objects.put`), a method name (`put`: both stores), or
 * `*` (every other operation). The most specific key wins.
 */
export type PerOperation<T> = Partial<Record<FaultOperation | FaultMethod | '*', T>>

/** One fault a {@link FaultPlan} injected. */
export interface InjectedFault {
  kind: FaultKind
  operation: FaultOperation
  /** What the call was about: an object key, a list prefix, an XCom (`dag/run/task[map]/key`), a query as JSON... */
  target: string
  /** The position of the call among every call the plan has seen, from 0. */
  callIndex: number
  /** How long `delay` and `timeout` wait, in milliseconds (drawn for every fault, used by those two). */
  delayMs: number
  /** A seeded number in [0, 1): where `truncate` cuts and which byte `corrupt` flips. */
  fraction: number
}

/** Options of {@link faults}. */
export interface FaultOptions {
  /** The seed: the same seed and the same sequence of calls inject the same faults. */
  seed: number
  /**
   * The probability that a call gets a fault, in [0, 1], for every operation or per operation (unlisted: 0).
   * @default 0 (only what {@link FaultPlan.failNext} asks for)
   */
  rate?: number | PerOperation<number>
  /**
   * The kinds to draw from, for every operation or per operation (unlisted: every kind that applies). Kinds that do
   * not apply to an operation are left out for it; list a kind twice to draw it twice as often.
   * @default every kind that applies to the operation
   */
  kinds?: readonly FaultKind[] | PerOperation<readonly FaultKind[]>
  /** Range of the seeded wait of `delay` and `timeout`, in milliseconds. @default { min: 1, max: 10 } */
  delayMs?: { min: number; max: number }
  /** Whether faults are injected from the start. @default true */
  enabled?: boolean
}

/** A fault asked for by {@link FaultPlan.failNext}. */
interface ForcedFault {
  kind: FaultKind
  operation: FaultOperation | FaultMethod | undefined
}

/**
 * Decides, call by call, whether and which fault the wrappers (`faultyObjectStore`, `faultyMetadataStore`) inject,
 * and records every fault injected. Share one plan between the wrappers of an XCom so one seed replays a whole run.
 */
export class FaultPlan {
  /** The seed the plan was made with. */
  readonly seed: number
  /** While false, every call passes through untouched (queued {@link failNext} faults wait). */
  enabled: boolean
  /** Every fault injected so far, in call order. */
  readonly injected: InjectedFault[] = []
  readonly #random: () => number
  readonly #rate: FaultOptions['rate']
  readonly #kinds: FaultOptions['kinds']
  readonly #delay: { min: number; max: number }
  readonly #forced: ForcedFault[] = []
  #calls = 0

  /** @throws XComError `E_CONFIG` for a rate outside [0, 1], an unknown kind or a bad delay range. */
  constructor(options: FaultOptions) {
    if (!Number.isFinite(options.seed)) throw config(`the seed must be a finite number, not ${options.seed}`)
    this.seed = options.seed
    this.#random = seededRandom(options.seed)
    this.#rate = options.rate
    this.#kinds = options.kinds
    this.#delay = options.delayMs ?? { min: 1, max: 10 }
    this.enabled = options.enabled ?? true
    checkOptions(options, this.#delay)
  }

  /** How many calls the plan has decided on. */
  get calls(): number {
    return this.#calls
  }

  /** How many faults of each kind were injected. */
  get counts(): Record<FaultKind, number> {
    const counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>
    for (const fault of this.injected) counts[fault.kind]++
    return counts
  }

  /**
   * Injects `kind` into the next call of `operation` (a qualified operation, a method name, or any operation it
   * applies to when omitted), whatever the rate. Calls queue up in order.
   * @throws XComError `E_CONFIG` when `kind` applies to no operation named.
   */
  failNext(kind: FaultKind, operation?: FaultOperation | FaultMethod, times = 1): this {
    if (!FAULT_OPERATIONS.some((op) => matches(op, operation) && faultKindsOf(op).includes(kind)))
      throw config(`the fault kind ${kind} does not apply to ${operation ?? 'any operation'}`)
    for (let index = 0; index < times; index++) this.#forced.push({ kind, operation })
    return this
  }

  /** Stops injecting for good: every later call passes through, queued {@link failNext} faults are dropped. */
  stop(): void {
    this.enabled = false
    this.#forced.length = 0
  }

  /**
   * Decides the fault of one call, records it, and returns it (undefined: no fault). The wrappers call it once per
   * call, synchronously, so concurrent calls are decided in the order they were made.
   */
  decide(operation: FaultOperation, target: string): InjectedFault | undefined {
    const callIndex = this.#calls++
    // Three draws on every call, faulted or not, so a call's draws depend only on its position.
    const draw = this.#random()
    const pick = this.#random()
    const fraction = this.#random()
    if (!this.enabled) return undefined
    const kind = this.#takeForced(operation) ?? this.#drawKind(operation, draw, pick)
    if (kind === undefined) return undefined
    const { min, max } = this.#delay
    const delayMs = min + Math.floor(fraction * (max - min + 1))
    const fault: InjectedFault = { kind, operation, target, callIndex, delayMs, fraction }
    this.injected.push(fault)
    return fault
  }

  #takeForced(operation: FaultOperation): FaultKind | undefined {
    const index = this.#forced.findIndex(
      (forced) => matches(operation, forced.operation) && faultKindsOf(operation).includes(forced.kind),
    )
    if (index === -1) return undefined
    return this.#forced.splice(index, 1)[0]?.kind
  }

  #drawKind(operation: FaultOperation, draw: number, pick: number): FaultKind | undefined {
    const rate = typeof this.#rate === 'number' ? this.#rate : (lookup(this.#rate, operation) ?? 0)
    if (draw >= rate) return undefined
    const listed = isKindList(this.#kinds) ? this.#kinds : lookup(this.#kinds, operation)
    const applicable = faultKindsOf(operation)
    const kinds = (listed ?? applicable).filter((kind) => applicable.includes(kind))
    return kinds[Math.floor(pick * kinds.length)]
  }
}

/**
 * A {@link FaultPlan}: seeded, so the same seed and the same sequence of calls inject the same faults.
 *
 * @example
 * ```ts
 * const plan = faults({ seed: 42, rate: { put: 0.1, get: 0.1 } })
 * const store = faultyObjectStore(new MyObjectStore(), plan)
 * ```
 * @throws XComError `E_CONFIG` for a rate outside [0, 1], an unknown kind or a bad delay range.
 */
export function faults(options: FaultOptions): FaultPlan {
  return new FaultPlan(options)
}

function matches(operation: FaultOperation, filter: FaultOperation | FaultMethod | undefined): boolean {
  return filter === undefined || filter === operation || operation.endsWith(`.${filter}`)
}

function lookup<T>(table: PerOperation<T> | undefined, operation: FaultOperation): T | undefined {
  if (table === undefined) return undefined
  const method = operation.slice(operation.indexOf('.') + 1) as FaultMethod
  return table[operation] ?? table[method] ?? table['*']
}

function isKindList(kinds: FaultOptions['kinds']): kinds is readonly FaultKind[] {
  return Array.isArray(kinds)
}

function checkOptions(options: FaultOptions, delay: { min: number; max: number }): void {
  const rates = typeof options.rate === 'object' ? Object.values(options.rate) : [options.rate ?? 0]
  for (const rate of rates)
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))
      throw config(`a rate must be in [0, 1], not ${rate}`)
  const lists = isKindList(options.kinds) ? [options.kinds] : Object.values(options.kinds ?? {})
  for (const kind of lists.flat())
    if (!FAULT_KINDS.includes(kind)) throw config(`unknown fault kind ${JSON.stringify(kind)}`)
  const tables = [options.rate, isKindList(options.kinds) ? undefined : options.kinds]
  for (const table of tables) {
    if (typeof table !== 'object' || table === null) continue
    for (const key of Object.keys(table))
      if (key !== '*' && !FAULT_OPERATIONS.some((op) => matches(op, key as FaultMethod)))
        throw config(`unknown operation ${JSON.stringify(key)}`)
  }
  if (
    !(Number.isInteger(delay.min) && Number.isInteger(delay.max) && delay.min >= 0 && delay.max >= delay.min)
  )
    throw config(`delayMs must be whole milliseconds with 0 <= min <= max, not ${JSON.stringify(delay)}`)
}

function config(problem: string): XComError {
  return new XComError(
    'E_CONFIG',
    `Invalid fault plan: ${problem}. See "Fault injection" in @xcom/testing's README.`,
  )
}
