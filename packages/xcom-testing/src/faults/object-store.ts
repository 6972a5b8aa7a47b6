import type { ByteSource, GetOptions, ObjectBody, ObjectInfo, ObjectStore, PutOptions } from '@xcom/core'
import { corruptedBody, discardSource, truncatedBody } from './bodies.ts'
import { injectedError } from './errors.ts'
import type { FaultPlan, InjectedFault } from './plan.ts'
import { sleep } from './sleep.ts'

/**
 * Wraps an {@link ObjectStore} so that `plan` injects faults into `put`, `get`, `head`, `deleteMany` and `list` (see
 * `FaultKind`); everything else (`url`, `capabilities`, `removeIncomplete`, `close`) is the wrapped store's,
 * present exactly when it has it. A store with `replicas` gets them wrapped with the same plan, since readers get
 * from the replicas directly. A `timeout` of `put` writes nothing (`failAfterWrite` is the write that did happen); a
 * body `put` does not read is cancelled. Injected errors are `E_BACKEND` `XComError`s.
 */
export function faultyObjectStore(store: ObjectStore, plan: FaultPlan): ObjectStore {
  const uri = (key: string) => `${store.url.replace(/\/+$/, '')}/${key}`
  const wrapped: ObjectStore = {
    get url() {
      return store.url
    },
    get capabilities() {
      return store.capabilities
    },
    put: (key: string, body: ByteSource, options?: PutOptions) =>
      put(store, plan.decide('objects.put', key), key, body, options, uri(key)),
    get: (key: string, options?: GetOptions) =>
      get(store, plan.decide('objects.get', key), key, options, uri(key)),
    head: async (key: string): Promise<ObjectInfo | undefined> => {
      await before(plan.decide('objects.head', key), { uri: uri(key) })
      return store.head(key)
    },
    deleteMany: async (keys: readonly string[]) => {
      await before(plan.decide('objects.deleteMany', keys.join(' ')), { uri: store.url })
      return store.deleteMany(keys)
    },
    list: (prefix: string) => list(store, plan.decide('objects.list', prefix), prefix, uri(prefix)),
    ...(store.replicas && { replicas: store.replicas.map((replica) => faultyObjectStore(replica, plan)) }),
  }
  const { removeIncomplete, close } = store
  if (removeIncomplete)
    wrapped.removeIncomplete = (startedBefore) => removeIncomplete.call(store, startedBefore)
  if (close) wrapped.close = () => close.call(store)
  return wrapped
}

/** Applies the faults that act before the wrapped store is called: waits for `delay`, throws for `fail` and `timeout`. */
async function before(
  fault: InjectedFault | undefined,
  options: { uri: string },
  signal?: AbortSignal,
): Promise<void> {
  if (fault === undefined) return
  if (fault.kind === 'delay' || fault.kind === 'timeout') await sleep(fault.delayMs, signal)
  if (fault.kind === 'fail' || fault.kind === 'timeout') throw injectedError(fault, options)
}

async function put(
  store: ObjectStore,
  fault: InjectedFault | undefined,
  key: string,
  body: ByteSource,
  options: PutOptions | undefined,
  uri: string,
): Promise<{ size: number }> {
  try {
    await before(fault, { uri }, options?.signal)
  } catch (error) {
    await discardSource(body, error)
    throw error
  }
  const result = await store.put(key, body, options)
  if (fault?.kind === 'failAfterWrite') throw injectedError(fault, { uri })
  return result
}

async function get(
  store: ObjectStore,
  fault: InjectedFault | undefined,
  key: string,
  options: GetOptions | undefined,
  uri: string,
): Promise<ObjectBody> {
  await before(fault, { uri }, options?.signal)
  const body = await store.get(key, options)
  if (fault?.kind === 'truncate') return truncatedBody(body, fault.fraction, options?.range)
  if (fault?.kind === 'corrupt') return corruptedBody(body, fault.fraction, options?.range)
  return body
}

async function* list(
  store: ObjectStore,
  fault: InjectedFault | undefined,
  prefix: string,
  uri: string,
): AsyncGenerator<ObjectInfo, void, undefined> {
  await before(fault, { uri })
  yield* store.list(prefix)
}
