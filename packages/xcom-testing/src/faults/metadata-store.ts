import {
  type DatabaseIdentity,
  formatIdentity,
  type MetadataStore,
  type PendingPurge,
  type RecordPage,
  type XComKey,
  type XComQuery,
  type XComRecord,
} from '@xcom/core'
import { injectedError } from './errors.ts'
import type { FaultOperation, FaultPlan, InjectedFault } from './plan.ts'
import { sleep } from './sleep.ts'

/**
 * Wraps a {@link MetadataStore} so that `plan` injects faults into every call but `close`: the writes (`put`,
 * `delete`, `resolvePurges`, `replaceIf`) may fail before COMMIT or lose their connection after it (`failBeforeCommit`,
 * `lostAfterCommit`), the reads (`get`, `getMany`, `list`, `pendingPurges`, `identity`) may `fail`, and every one may
 * be delayed. Injected errors are `E_BACKEND` `XComError`s. Members beyond the contract (a SQL store's `location`,
 * `ready()`) are not carried over: keep the wrapped store for them.
 */
export function faultyMetadataStore(store: MetadataStore, plan: FaultPlan): MetadataStore {
  return new FaultyMetadataStore(store, plan)
}

/** The store {@link faultyMetadataStore} returns. */
class FaultyMetadataStore implements MetadataStore {
  readonly #store: MetadataStore
  readonly #plan: FaultPlan

  /** Present only when the wrapped store has it (it is optional in the contract). */
  readonly replaceIf?: (record: XComRecord, expectedId: string) => Promise<XComRecord | undefined>

  constructor(store: MetadataStore, plan: FaultPlan) {
    this.#store = store
    this.#plan = plan
    const replaceIf = store.replaceIf?.bind(store)
    if (replaceIf)
      this.replaceIf = (record, expectedId) =>
        this.#call(
          'metadata.replaceIf',
          formatIdentity(record),
          () => replaceIf(record, expectedId),
          formatIdentity(record),
        )
  }

  put(record: XComRecord): Promise<XComRecord | undefined> {
    return this.#call(
      'metadata.put',
      formatIdentity(record),
      () => this.#store.put(record),
      formatIdentity(record),
    )
  }

  get(id: XComKey): Promise<XComRecord | undefined> {
    return this.#call('metadata.get', formatIdentity(id), () => this.#store.get(id), formatIdentity(id))
  }

  getMany(query: XComQuery): Promise<XComRecord[]> {
    return this.#call('metadata.getMany', JSON.stringify(query), () => this.#store.getMany(query))
  }

  delete(query: XComQuery): Promise<XComRecord[]> {
    return this.#call('metadata.delete', JSON.stringify(query), () => this.#store.delete(query))
  }

  list(query: XComQuery, page?: { limit: number; after?: string | undefined }): Promise<RecordPage> {
    return this.#call('metadata.list', JSON.stringify(query), () => this.#store.list(query, page))
  }

  pendingPurges(limit: number): Promise<PendingPurge[]> {
    return this.#call('metadata.pendingPurges', `limit ${limit}`, () => this.#store.pendingPurges(limit))
  }

  resolvePurges(ids: readonly string[]): Promise<void> {
    return this.#call('metadata.resolvePurges', ids.join(' '), () => this.#store.resolvePurges(ids))
  }

  identity(): Promise<DatabaseIdentity> {
    return this.#call('metadata.identity', 'identity', () => this.#store.identity())
  }

  close(): Promise<void> {
    return this.#store.close()
  }

  /** Decides the fault at once (so concurrent calls are decided in call order), then runs `call` around it. */
  #call<T>(operation: FaultOperation, target: string, call: () => Promise<T>, xcom?: string): Promise<T> {
    return withFault(this.#plan.decide(operation, target), call, xcom === undefined ? {} : { xcom })
  }
}

async function withFault<T>(
  fault: InjectedFault | undefined,
  call: () => Promise<T>,
  options: { xcom?: string },
): Promise<T> {
  if (fault === undefined) return call()
  if (fault.kind === 'delay') await sleep(fault.delayMs)
  if (fault.kind === 'fail' || fault.kind === 'failBeforeCommit') throw injectedError(fault, options)
  const result = await call()
  if (fault.kind === 'lostAfterCommit') throw injectedError(fault, options)
  return result
}
