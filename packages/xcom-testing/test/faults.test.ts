import { MemoryMetadataStore, type ObjectInfo, type ObjectStore, XCom, XComError } from '@xcom/core'
import { byteChunks, checkObjectKey, concatBytes, prefixedListPrefix } from '@xcom/core/adapter'
import { describe, expect, it } from 'vitest'
import {
  describeMetadataStore,
  describeObjectStore,
  type FaultKind,
  type FaultPlan,
  faults,
  faultyMetadataStore,
  faultyObjectStore,
  type InjectedFault,
  isInjectedFault,
  randomBytes,
  readAll,
  testRecord,
  testReference,
} from '../src/index.ts'

/** A Map-backed object store: @xcom/objectstore's memory store is not a dependency of this package. */
function mapStore(): ObjectStore & { objects: Map<string, { bytes: Uint8Array; info: ObjectInfo }> } {
  const url = 'memory://faults-test'
  const objects = new Map<string, { bytes: Uint8Array; info: ObjectInfo }>()
  const notFound = (key: string) =>
    new XComError('E_NOT_FOUND', `No object ${url}/${key}.`, { uri: `${url}/${key}` })
  return {
    objects,
    url,
    capabilities: { rangeReads: false, conditionalCreate: false },
    async put(key, body, options = {}) {
      checkObjectKey(url, key)
      const chunks: Uint8Array[] = []
      for await (const chunk of byteChunks(body)) {
        options.signal?.throwIfAborted()
        chunks.push(chunk.slice())
      }
      const bytes = chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks).slice()
      const info = {
        objectKey: key,
        size: bytes.byteLength,
        lastModified: new Date(),
        metadata: { ...options.metadata },
      }
      objects.set(key, { bytes, info })
      return { size: bytes.byteLength }
    },
    async get(key) {
      const object = objects.get(checkObjectKey(url, key))
      if (object === undefined) throw notFound(key)
      const { bytes, info } = object
      return {
        ...info,
        bytes: async () => bytes.slice(),
        stream: () =>
          new ReadableStream<Uint8Array>({
            start(controller) {
              // Several chunks, so streamed faults cross chunk boundaries.
              for (let at = 0; at < bytes.byteLength; at += 100) controller.enqueue(bytes.slice(at, at + 100))
              controller.close()
            },
          }),
      }
    },
    async head(key) {
      return objects.get(checkObjectKey(url, key))?.info
    },
    async deleteMany(keys) {
      const failed: { objectKey: string; error: XComError }[] = []
      for (const key of keys) {
        try {
          objects.delete(checkObjectKey(url, key))
        } catch (error) {
          failed.push({ objectKey: key, error: error as XComError })
        }
      }
      return { failed }
    },
    async *list(prefix) {
      const full = prefixedListPrefix(url, '', prefix)
      for (const [key, { info }] of [...objects]) if (key.startsWith(full)) yield info
    },
  }
}

/** Runs `calls` decisions over a fixed mix of operations and returns what was injected. */
function schedule(plan: FaultPlan, calls: number): InjectedFault[] {
  const operations = ['objects.put', 'objects.get', 'metadata.put', 'metadata.get', 'objects.list'] as const
  for (let index = 0; index < calls; index++)
    plan.decide(operations[index % operations.length] as (typeof operations)[number], `k${index}`)
  return plan.injected
}

async function keysOf(listing: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = []
  for await (const info of listing) keys.push(info.objectKey)
  return keys
}

async function rejection(promise: Promise<unknown>): Promise<XComError> {
  const error = await promise.then(
    () => expect.fail('expected a rejection'),
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(XComError)
  expect((error as XComError).code).toBe('E_BACKEND')
  expect(isInjectedFault(error)).toBe(true)
  return error as XComError
}

describe('faults(): the plan', () => {
  it('replays: the same seed and calls inject the same faults; another seed others', () => {
    const first = schedule(faults({ seed: 7, rate: 0.2 }), 1000)
    expect(first.length).toBeGreaterThan(0)
    expect(schedule(faults({ seed: 7, rate: 0.2 }), 1000)).toEqual(first)
    expect(schedule(faults({ seed: 8, rate: 0.2 }), 1000)).not.toEqual(first)
  })

  it('respects the rate over 10,000 decisions, and a rate per operation', () => {
    const plan = faults({ seed: 1, rate: 0.1 })
    for (let index = 0; index < 10_000; index++) plan.decide('objects.get', 'k')
    expect(plan.injected.length).toBeGreaterThan(900)
    expect(plan.injected.length).toBeLessThan(1100)
    const perOperation = faults({ seed: 2, rate: { put: 0.5, 'metadata.get': 0 } })
    for (let index = 0; index < 2000; index++) {
      perOperation.decide('objects.put', 'k')
      perOperation.decide('metadata.put', 'k')
      perOperation.decide('metadata.get', 'k')
      perOperation.decide('objects.head', 'k')
    }
    const byOperation = Map.groupBy(perOperation.injected, (fault) => fault.operation)
    expect(byOperation.get('objects.put')?.length).toBeGreaterThan(900)
    expect(byOperation.get('metadata.put')?.length).toBeGreaterThan(900)
    expect(byOperation.has('metadata.get')).toBe(false)
    expect(byOperation.has('objects.head')).toBe(false)
  })

  it('draws only the kinds asked for that apply, and counts them', () => {
    const plan = faults({ seed: 3, rate: 1, kinds: { get: ['truncate', 'fail'], '*': ['delay'] } })
    for (let index = 0; index < 200; index++) {
      plan.decide('objects.get', 'k')
      plan.decide('metadata.get', 'k')
      plan.decide('objects.put', 'k')
    }
    const kindsOf = (operation: string) =>
      new Set(plan.injected.filter((fault) => fault.operation === operation).map((fault) => fault.kind))
    expect(kindsOf('objects.get')).toEqual(new Set(['truncate', 'fail']))
    expect(kindsOf('metadata.get')).toEqual(new Set(['fail']))
    expect(kindsOf('objects.put')).toEqual(new Set(['delay']))
    const { counts } = plan
    expect(counts.delay).toBe(200)
    expect(counts.truncate + counts.fail).toBe(400)
    expect(counts.lostAfterCommit).toBe(0)
  })

  it('injects what failNext asks for, in order, whatever the rate; stop() drops it and passes everything', () => {
    const plan = faults({ seed: 4 }).failNext('timeout', 'objects.head').failNext('lostAfterCommit')
    expect(plan.decide('objects.put', 'a')).toBeUndefined()
    expect(plan.decide('metadata.delete', 'b')?.kind).toBe('lostAfterCommit')
    expect(plan.decide('objects.head', 'c')).toMatchObject({ kind: 'timeout', callIndex: 2, target: 'c' })
    expect(plan.decide('objects.head', 'd')).toBeUndefined()
    plan.failNext('fail', 'get')
    plan.stop()
    expect(plan.decide('metadata.get', 'e')).toBeUndefined()
    expect(plan.injected.map((fault) => fault.kind)).toEqual(['lostAfterCommit', 'timeout'])
  })

  it('refuses a bad rate, an unknown kind or operation, and a kind that applies nowhere asked', () => {
    for (const options of [
      { seed: 1, rate: 1.5 },
      { seed: 1, rate: { put: -1 } },
      { seed: 1, rate: { nope: 0.1 } },
      { seed: 1, kinds: ['explode' as FaultKind] },
      { seed: 1, delayMs: { min: 5, max: 1 } },
      { seed: Number.NaN },
    ])
      expect(() => faults(options as never)).toThrow(expect.objectContaining({ code: 'E_CONFIG' }))
    expect(() => faults({ seed: 1 }).failNext('truncate', 'head')).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    )
  })
})

describe('faultyObjectStore', () => {
  const bytes = randomBytes(1000, 5)

  it('fail: throws before the store is called, and cancels the body it did not read', async () => {
    const inner = mapStore()
    const store = faultyObjectStore(inner, faults({ seed: 1 }).failNext('fail', 'put'))
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(bytes),
      cancel: () => {
        cancelled = true
      },
    })
    const error = await rejection(store.put('a/b', body))
    expect(error.message).toContain('injected')
    expect(error.uri).toBe('memory://faults-test/a/b')
    expect(cancelled).toBe(true)
    expect(inner.objects.size).toBe(0)
  })

  it('fail and timeout on an async iterable body return its iterator', async () => {
    const store = faultyObjectStore(mapStore(), faults({ seed: 1 }).failNext('timeout', 'put'))
    let returned = false
    const body = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false as const, value: bytes }),
        return: async () => {
          returned = true
          return { done: true as const, value: undefined }
        },
      }),
    }
    const error = await rejection(store.put('a/b', body))
    expect(error.message).toContain('timed out')
    expect(returned).toBe(true)
  })

  it('failAfterWrite: the object exists though the caller was told it failed (an orphan)', async () => {
    const inner = mapStore()
    const store = faultyObjectStore(inner, faults({ seed: 1 }).failNext('failAfterWrite'))
    await rejection(store.put('orphan/x', bytes))
    expect(await (await inner.get('orphan/x')).bytes()).toEqual(bytes)
  })

  it('truncate: fewer bytes, as bytes and as a stream, while size says the full size', async () => {
    const inner = mapStore()
    await inner.put('t/x', bytes)
    const plan = faults({ seed: 9, kinds: ['truncate'] })
      .failNext('truncate')
      .failNext('truncate')
    const store = faultyObjectStore(inner, plan)
    const body = await store.get('t/x')
    expect(body.size).toBe(1000)
    const read = await body.bytes()
    expect(read.byteLength).toBeLessThan(1000)
    expect(read).toEqual(bytes.slice(0, read.byteLength))
    const streamed = await readAll((await store.get('t/x')).stream())
    expect(streamed.byteLength).toBeLessThan(1000)
    expect(streamed).toEqual(bytes.slice(0, streamed.byteLength))
  })

  it('corrupt: exactly one byte differs, as bytes and as a stream', async () => {
    const inner = mapStore()
    await inner.put('c/x', bytes)
    const store = faultyObjectStore(inner, faults({ seed: 2 }).failNext('corrupt').failNext('corrupt'))
    const differing = (read: Uint8Array) => read.filter((byte, index) => byte !== bytes[index]).length
    expect(differing(await (await store.get('c/x')).bytes())).toBe(1)
    expect(differing(await readAll((await store.get('c/x')).stream()))).toBe(1)
    expect(await (await inner.get('c/x')).bytes()).toEqual(bytes)
  })

  it('delay waits and proceeds; head, deleteMany and list fail before the store is called', async () => {
    const inner = mapStore()
    await inner.put('d/x', bytes)
    const plan = faults({ seed: 3, delayMs: { min: 20, max: 20 } })
    const store = faultyObjectStore(inner, plan)
    plan.failNext('delay', 'head')
    const started = performance.now()
    expect((await store.head('d/x'))?.size).toBe(1000)
    expect(performance.now() - started).toBeGreaterThanOrEqual(15)
    plan.failNext('fail', 'head').failNext('fail', 'deleteMany').failNext('timeout', 'list')
    await rejection(store.head('d/x'))
    await rejection(store.deleteMany(['d/x']))
    expect(inner.objects.has('d/x')).toBe(true)
    await rejection(keysOf(store.list('d/')))
    expect(await keysOf(store.list('d/'))).toEqual(['d/x'])
  })

  it('a delayed put still honours its abort signal, and releases its body', async () => {
    const plan = faults({ seed: 1, delayMs: { min: 5000, max: 5000 } }).failNext('delay', 'put')
    const inner = mapStore()
    const store = faultyObjectStore(inner, plan)
    const controller = new AbortController()
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      cancel: () => {
        cancelled = true
      },
    })
    const writing = store.put('s/x', body, { signal: controller.signal })
    controller.abort(new Error('stop'))
    await expect(writing).rejects.toThrow('stop')
    expect(cancelled).toBe(true)
    expect(inner.objects.size).toBe(0)
  })

  it('delegates the optional members exactly when the wrapped store has them, and wraps replicas', async () => {
    const plan = faults({ seed: 1 })
    const bare = faultyObjectStore(mapStore(), plan)
    expect(bare.close).toBeUndefined()
    expect(bare.removeIncomplete).toBeUndefined()
    expect('replicas' in bare).toBe(false)
    const calls: string[] = []
    const replica = mapStore()
    await replica.put('r/x', bytes)
    const full: ObjectStore = {
      ...mapStore(),
      replicas: [replica],
      close: async () => void calls.push('close'),
      removeIncomplete: async (before) => {
        calls.push(`removeIncomplete ${before.toISOString()}`)
        return { removed: 2, failed: [] }
      },
    }
    const wrapped = faultyObjectStore(full, plan)
    expect(await wrapped.removeIncomplete?.(new Date(0))).toEqual({ removed: 2, failed: [] })
    await wrapped.close?.()
    expect(calls).toEqual(['removeIncomplete 1970-01-01T00:00:00.000Z', 'close'])
    expect(wrapped.capabilities).toBe(full.capabilities)
    plan.failNext('fail', 'get')
    const [wrappedReplica] = wrapped.replicas ?? []
    expect(wrappedReplica).not.toBe(replica)
    await rejection((wrappedReplica as ObjectStore).get('r/x'))
    expect(plan.injected.at(-1)).toMatchObject({ operation: 'objects.get', target: 'r/x' })
  })

  it('passes everything through once stopped', async () => {
    const inner = mapStore()
    const plan = faults({ seed: 5, rate: 1 })
    const store = faultyObjectStore(inner, plan)
    await rejection(store.put('s/x', bytes))
    plan.stop()
    await store.put('s/x', bytes)
    expect(await (await store.get('s/x')).bytes()).toEqual(bytes)
    expect((await store.deleteMany(['s/x'])).failed).toEqual([])
    expect(plan.injected).toHaveLength(1)
  })

  it('replays an object workload under faults exactly with the same seed', async () => {
    const run = async (seed: number) => {
      const plan = faults({ seed, rate: 0.3, delayMs: { min: 0, max: 1 } })
      const store = faultyObjectStore(mapStore(), plan)
      const outcomes: string[] = []
      for (let index = 0; index < 200; index++) {
        const key = `w/${index % 7}`
        const operation =
          index % 3 === 0
            ? store.put(key, randomBytes(50, index))
            : store.get(key).then((body) => body.bytes())
        outcomes.push(
          await operation.then(
            (result) => ('byteLength' in result ? `${result.byteLength}` : `put ${result.size}`),
            (error: XComError) => error.code,
          ),
        )
      }
      return { outcomes, injected: plan.injected }
    }
    expect(await run(11)).toEqual(await run(11))
  })
})

describe('faultyMetadataStore', () => {
  const id = { dagId: 'd', runId: 'r', taskId: 't', mapIndex: -1, key: 'return_value' }

  it('failBeforeCommit: nothing is written', async () => {
    const inner = new MemoryMetadataStore()
    const store = faultyMetadataStore(inner, faults({ seed: 1 }).failNext('failBeforeCommit', 'put'))
    const error = await rejection(store.put(testRecord(id)))
    expect(error.xcom).toBe('d/r/t/return_value')
    expect(await inner.get(id)).toBeUndefined()
  })

  it('lostAfterCommit: the record is committed though the caller was told it failed', async () => {
    const inner = new MemoryMetadataStore()
    const plan = faults({ seed: 1 })
    const store = faultyMetadataStore(inner, plan)
    const record = testReference(id)
    plan.failNext('lostAfterCommit', 'put')
    const error = await rejection(store.put(record))
    expect(error.message).toContain('after COMMIT')
    expect((await inner.get(id))?.id).toBe(record.id)
    plan.failNext('lostAfterCommit', 'delete')
    await rejection(store.delete({ dagId: 'd' }))
    expect(await inner.get(id)).toBeUndefined()
    const [purge] = await inner.pendingPurges(10)
    expect(purge?.id).toBe(record.id)
    plan.failNext('failBeforeCommit', 'resolvePurges')
    await rejection(store.resolvePurges([record.id]))
    expect(await inner.pendingPurges(10)).toHaveLength(1)
    plan.failNext('lostAfterCommit', 'resolvePurges')
    await rejection(store.resolvePurges([record.id]))
    expect(await inner.pendingPurges(10)).toHaveLength(0)
  })

  it('reads fail or are delayed; every call but close is decided; stop() passes everything', async () => {
    const inner = new MemoryMetadataStore()
    await inner.put(testRecord(id))
    const plan = faults({ seed: 6, rate: 1, delayMs: { min: 0, max: 1 } })
    const store = faultyMetadataStore(inner, plan)
    const reads = [
      () => store.get(id),
      () => store.getMany({ dagId: 'd' }),
      () => store.list({}, { limit: 5 }),
      () => store.pendingPurges(5),
      () => store.identity(),
    ]
    for (let round = 0; round < 20; round++) for (const read of reads) await read().catch(() => undefined)
    expect(new Set(plan.injected.map((fault) => fault.kind))).toEqual(new Set(['fail', 'delay']))
    expect(new Set(plan.injected.map((fault) => fault.operation))).toEqual(
      new Set([
        'metadata.get',
        'metadata.getMany',
        'metadata.list',
        'metadata.pendingPurges',
        'metadata.identity',
      ]),
    )
    const seen = plan.calls
    plan.stop()
    expect((await store.get(id))?.dagId).toBe('d')
    expect(await store.identity()).toEqual(await inner.identity())
    await store.close()
    expect(plan.calls).toBe(seen + 2)
  })

  it('every write fault under rate 1 is coded, and leaves the store as its kind says', async () => {
    const inner = new MemoryMetadataStore()
    const plan = faults({ seed: 12, rate: 1, kinds: ['failBeforeCommit', 'lostAfterCommit'] })
    const store = faultyMetadataStore(inner, plan)
    for (let index = 0; index < 50; index++) {
      const record = testRecord({ ...id, key: `k${index}` })
      await rejection(store.put(record))
      const committed = (await inner.get({ ...id, key: `k${index}` })) !== undefined
      expect(committed).toBe(plan.injected.at(-1)?.kind === 'lostAfterCommit')
    }
  })
})

describe('the wrappers under XCom', () => {
  it('a workload sees the last value pushed, an in-doubt one, or a coded error; stopped, it reads back cleanly', async () => {
    const run = async (seed: number) => {
      const plan = faults({ seed, rate: 0.2, delayMs: { min: 0, max: 1 } })
      const quiet = { debug() {}, info() {}, warn() {}, error() {} }
      const xcom = new XCom({
        metadata: faultyMetadataStore(new MemoryMetadataStore(), plan),
        telemetry: false,
        logger: quiet,
      })
      // Per identity, the values a pull may return: a push that failed may still have committed.
      const possible = new Map<string, Set<number | undefined>>()
      const outcomes: string[] = []
      for (let step = 0; step < 400; step++) {
        const taskId = `t${step % 5}`
        const allowed = possible.get(taskId) ?? new Set([undefined])
        possible.set(taskId, allowed)
        if (step % 2 === 0) {
          const pushed = await xcom.push({ dagId: 'd', runId: 'r', taskId }, step).then(
            () => true,
            (error: unknown) => {
              expect(XComError.is(error, 'E_BACKEND')).toBe(true)
              return false
            },
          )
          if (pushed) allowed.clear()
          allowed.add(step)
          outcomes.push(pushed ? 'pushed' : 'push failed')
        } else {
          const pulled = await xcom
            .pull<number>({ dagId: 'd', runId: 'r', taskId }, { default: undefined })
            .then(
              (value) => ({ value }),
              (error: unknown) => {
                expect(XComError.is(error, 'E_BACKEND')).toBe(true)
                return undefined
              },
            )
          if (pulled) expect(allowed.has(pulled.value)).toBe(true)
          outcomes.push(pulled ? `pulled ${pulled.value}` : 'pull failed')
        }
      }
      plan.stop()
      for (const [taskId, allowed] of possible)
        expect(
          allowed.has(await xcom.pull<number>({ dagId: 'd', runId: 'r', taskId }, { default: undefined })),
        ).toBe(true)
      expect(plan.counts.lostAfterCommit).toBeGreaterThan(0)
      return { outcomes, injected: plan.injected }
    }
    const first = await run(21)
    expect(await run(21)).toEqual(first)
  })
})

// Pass-through with faults off proves every member is delegated, with the wrapped store's own behaviour.
describeObjectStore('faultyObjectStore, faults off', () =>
  faultyObjectStore(mapStore(), faults({ seed: 1, rate: 0 })),
)
describeObjectStore('faultyObjectStore, delays only', () =>
  faultyObjectStore(
    mapStore(),
    faults({ seed: 1, rate: 0.5, kinds: ['delay'], delayMs: { min: 0, max: 1 } }),
  ),
)
describeMetadataStore('faultyMetadataStore, faults off', () =>
  faultyMetadataStore(new MemoryMetadataStore(), faults({ seed: 1, enabled: false, rate: 1 })),
)
