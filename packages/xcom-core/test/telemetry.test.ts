import { context, metrics, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MemoryMetadataStore, type StoredValue, XCom } from '../src/index.ts'
import { ExternalBackend } from './fixtures/external-backend.ts'

/** A reader collected on demand: the test reads the meter's points after each scenario. */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter()
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] })
let reader: TestReader
let meterProvider: MeterProvider
const contextManager = new AsyncLocalStorageContextManager()

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable())
})
afterAll(() => {
  context.disable()
})
afterEach(async () => {
  spans.reset()
  trace.disable()
  metrics.disable()
})

/** An XCom recording through its own tracer and meter (`telemetry` option). */
function recordedXCom(backend = new ExternalBackend()) {
  reader = new TestReader()
  meterProvider = new MeterProvider({ readers: [reader] })
  const xcom = new XCom({
    metadata: new MemoryMetadataStore(),
    backend,
    telemetry: { tracer: tracerProvider.getTracer('test'), meter: meterProvider.getMeter('test') },
    logLevel: 'silent',
  })
  return { xcom, backend }
}

/** The points of one metric, by name. */
async function points(name: string): Promise<DataPoint<unknown>[]> {
  const { resourceMetrics } = await reader.collect()
  return resourceMetrics.scopeMetrics.flatMap((scope) =>
    scope.metrics
      .filter((metric) => metric.descriptor.name === name)
      .flatMap((metric) => metric.dataPoints as DataPoint<unknown>[]),
  )
}

const id = { dagId: 'etl', runId: 'r1', taskId: 'extract' }

describe('spans', () => {
  it('records push and pull with the identity, where the value lives, and a purge under the push that replaced it', async () => {
    const { xcom } = recordedXCom()
    await xcom.push(id, { rows: [1, 2, 3] })
    await xcom.push(id, { rows: [4] })
    expect(await xcom.pull(id)).toEqual({ rows: [4] })
    const finished = spans.getFinishedSpans()
    expect(finished.map((span) => span.name)).toEqual(['xcom.push', 'xcom.purge', 'xcom.push', 'xcom.pull'])
    const [push, purge, secondPush, pull] = finished
    expect(push?.attributes).toMatchObject({
      'xcom.dag_id': 'etl',
      'xcom.run_id': 'r1',
      'xcom.task_id': 'extract',
      'xcom.map_index': -1,
      'xcom.key': 'return_value',
      'xcom.location': 'object_storage',
      'xcom.storage.scheme': 'ext',
      'xcom.value.size': 16,
    })
    expect(purge?.parentSpanContext?.spanId).toBe(secondPush?.spanContext().spanId)
    expect(purge?.kind).toBe(2) // CLIENT: a call to the store
    expect(pull?.attributes).toMatchObject({ 'xcom.location': 'object_storage', 'xcom.value.size': 12 })
    for (const span of finished) expect(span.status.code).toBe(SpanStatusCode.UNSET)
  })

  it('marks a failed call with its error code, and a missing pull with a default as not found', async () => {
    const { xcom } = recordedXCom()
    await expect(xcom.push({ ...id, taskId: '' }, 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    expect(await xcom.pull({ ...id, taskId: 'nothing' }, { default: null })).toBeNull()
    const [failed, missing] = spans.getFinishedSpans()
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR)
    expect(failed?.attributes['error.type']).toBe('E_INVALID_KEY')
    expect(failed?.events[0]?.name).toBe('exception')
    expect(missing?.attributes['xcom.outcome']).toBe('not_found')
    expect(missing?.status.code).toBe(SpanStatusCode.UNSET)
  })

  it('records clear, pull_many and gc with their counts', async () => {
    const { xcom } = recordedXCom()
    for (const taskId of ['a', 'b']) await xcom.push({ ...id, taskId }, taskId)
    expect(await xcom.pullMany({ dagId: 'etl', runId: 'r1' })).toHaveLength(2)
    await xcom.clear({ dagId: 'etl', runId: 'r1' })
    await xcom.gc({ graceMs: 0 })
    const byName = new Map(spans.getFinishedSpans().map((span) => [span.name, span]))
    expect(byName.get('xcom.pull_many')?.attributes['xcom.pull_many.count']).toBe(2)
    expect(byName.get('xcom.clear')?.attributes).toMatchObject({
      'xcom.clear.deleted': 2,
      'xcom.clear.purged': 2,
    })
    expect(byName.get('xcom.gc')?.attributes).toMatchObject({
      'xcom.gc.purges_retried': 0,
      'xcom.gc.deleted': 0,
    })
  })

  it('records through the global providers when no tracer is given, and nothing with telemetry: false', async () => {
    trace.setGlobalTracerProvider(tracerProvider)
    const global = new XCom({ metadata: new MemoryMetadataStore(), logLevel: 'silent' })
    await global.push(id, 1)
    expect(spans.getFinishedSpans().map((span) => span.name)).toEqual(['xcom.push'])
    expect(spans.getFinishedSpans()[0]?.instrumentationScope.name).toBe('@xcom/core')
    spans.reset()
    const off = new XCom({ metadata: new MemoryMetadataStore(), logLevel: 'silent', telemetry: false })
    await off.push(id, 1)
    expect(spans.getFinishedSpans()).toEqual([])
  })

  it('keeps the caller’s span as the parent', async () => {
    const { xcom } = recordedXCom()
    const tracer = tracerProvider.getTracer('app')
    await tracer.startActiveSpan('task', async (task) => {
      await xcom.push(id, 1)
      task.end()
    })
    const [push, task] = spans.getFinishedSpans()
    expect(push?.parentSpanContext?.spanId).toBe(task?.spanContext().spanId)
  })
})

describe('metrics', () => {
  it('records durations and sizes split by operation and location, and counts offloaded values', async () => {
    const { xcom } = recordedXCom()
    await xcom.push(id, 'x'.repeat(100))
    await xcom.pull(id)
    const durations = await points('xcom.client.operation.duration')
    expect(durations.map((point) => point.attributes)).toEqual([
      { 'xcom.operation.name': 'push', 'xcom.location': 'object_storage' },
      { 'xcom.operation.name': 'pull', 'xcom.location': 'object_storage' },
    ])
    const sizes = await points('xcom.value.size')
    expect(sizes.map((point) => (point.value as { sum: number }).sum)).toEqual([102, 102])
    const offloaded = await points('xcom.offloaded.values')
    expect(offloaded.map((point) => point.value)).toEqual([1])
  })

  it('pullStream is a span of its own, and a push whose row was not written cleans up or warns', async () => {
    class Streaming extends ExternalBackend {
      async openStream(stored: StoredValue): Promise<ReadableStream<Uint8Array>> {
        const text = String(await this.deserializeValue(stored))
        return new Blob([text]).stream()
      }
    }
    const backend = new Streaming()
    const lines: unknown[][] = []
    const metadata = new MemoryMetadataStore()
    const xcom = new XCom({
      metadata,
      backend,
      telemetry: { tracer: tracerProvider.getTracer('test') },
      logger: { debug() {}, info() {}, warn: (...args: unknown[]) => lines.push(args), error() {} },
    })
    await xcom.push(id, 'streamed')
    await new Response(await xcom.pullStream(id)).text()
    const stream = spans.getFinishedSpans().find((span) => span.name === 'xcom.pull_stream')
    expect(stream?.attributes).toMatchObject({ 'xcom.task_id': 'extract', 'xcom.location': 'object_storage' })
    metadata.put = async () => {
      throw new Error('database went away')
    }
    await expect(xcom.push({ ...id, taskId: 'lost' }, 1)).rejects.toMatchObject({ code: 'E_BACKEND' })
    expect(lines).toEqual([]) // the object was deleted: nothing to say
    backend.failPurges = true
    await expect(xcom.push({ ...id, taskId: 'lost' }, 2)).rejects.toMatchObject({ code: 'E_BACKEND' })
    expect(lines[0]?.[0]).toMatch(
      /^Deleting what the failed push of XCom etl\/r1\/lost\/return_value stored failed: store unavailable\. No row references it; gc\(\) sweeps it after the grace period\.$/,
    )
  })

  it('a failed purge: a warning naming the XCom, an error span and a counter', async () => {
    const lines: unknown[][] = []
    const backend = new ExternalBackend()
    reader = new TestReader()
    meterProvider = new MeterProvider({ readers: [reader] })
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (...args: unknown[]) => lines.push(args),
      error: () => {},
    }
    const xcom = new XCom({
      metadata: new MemoryMetadataStore(),
      backend,
      telemetry: { tracer: tracerProvider.getTracer('test'), meter: meterProvider.getMeter('test') },
      logger,
    })
    await xcom.push(id, 'v1')
    backend.failPurges = true
    expect(await xcom.clear({ dagId: 'etl' })).toMatchObject({ failedPurges: 1 })
    expect(lines).toHaveLength(1)
    expect(lines[0]?.[0]).toMatch(
      /^Purging the replaced or cleared value of XCom etl\/r1\/extract\/return_value failed: store unavailable\. It stays recorded; the next gc\(\) deletes it\.$/,
    )
    expect(lines[0]?.[1]).toMatchObject({ xcom: 'etl/r1/extract/return_value', code: 'Error' })
    const purge = spans.getFinishedSpans().find((span) => span.name === 'xcom.purge')
    expect(purge?.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'store unavailable' })
    const failures = await points('xcom.purge.failures')
    expect(failures.map((point) => [point.value, point.attributes])).toEqual([[1, { 'error.type': 'Error' }]])
  })
})
