import { context, type Meter, type Tracer, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'

/** A reader collected on demand: tests read the points their calls recorded. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A meter whose points a test reads back. */
export interface RecordedMeter {
  meter: Meter
  /** Every point of instrument `name` so far. */
  points(name: string): Promise<DataPoint<unknown>[]>
  /** The sum of counter `name` (0 when nothing was counted). */
  counter(name: string): Promise<number>
}

/** The real OpenTelemetry SDK recording in memory, for tests of what xcom traces. */
export interface TelemetryRecording {
  tracerProvider: TracerProvider
  /** A tracer of {@link tracerProvider}, for the test's own spans and for `new XCom({ telemetry })`. */
  tracer: Tracer
  /** Every finished span (reset it between tests). */
  spans: InMemorySpanExporter
  /** A fresh meter on its own reader. */
  meter(): RecordedMeter
  /** Runs `work` with a new span `test.op` active, ends it, and returns its span id (what SDK calls must see). */
  inSpan(work: () => Promise<void>): Promise<string>
  /** Unregisters the context manager (call in afterAll). */
  stop(): void
}

/**
 * Registers an AsyncLocalStorage context manager (so spans nest under the active one, as the Node SDK sets up) and
 * returns an in-memory tracer provider with a synchronous processor: spans are readable as soon as they end.
 */
export function recordTelemetry(): TelemetryRecording {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  const spans = new InMemorySpanExporter()
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  })
  return {
    tracerProvider,
    tracer: tracerProvider.getTracer('test'),
    spans,
    meter() {
      const reader = new OnDemandReader()
      const meter = new MeterProvider({ readers: [reader] }).getMeter('test')
      const points = async (name: string) => {
        const { resourceMetrics } = await reader.collect()
        return resourceMetrics.scopeMetrics.flatMap((scope) =>
          scope.metrics
            .filter((metric) => metric.descriptor.name === name)
            .flatMap((metric) => metric.dataPoints as DataPoint<unknown>[]),
        )
      }
      return {
        meter,
        points,
        async counter(name) {
          return (await points(name)).reduce((sum, point) => sum + (point.value as number), 0)
        },
      }
    },
    async inSpan(work) {
      const span = tracerProvider.getTracer('test').startSpan('test.op')
      try {
        await context.with(trace.setSpan(context.active(), span), work)
      } finally {
        span.end()
      }
      return span.spanContext().spanId
    },
    stop() {
      context.disable()
    },
  }
}

/** The keys a store lists under `prefix`, in listing order. */
export async function listedKeys(
  store: { list(prefix: string): AsyncIterable<{ objectKey: string }> },
  prefix: string,
): Promise<string[]> {
  const keys: string[] = []
  for await (const info of store.list(prefix)) keys.push(info.objectKey)
  return keys
}

/** One line a {@link captureLogger} logger was given. */
export interface CapturedLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  fields: Record<string, unknown>
}

/** A console-like logger (message, fields) keeping every line, for `new XCom({ logger })`. */
export function captureLogger() {
  const lines: CapturedLine[] = []
  const at =
    (level: CapturedLine['level']) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level, message, fields })
    }
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

/** Everything spans and log lines carry (names, attributes, status, events), as one text to search for secrets. */
export function recordedText(spans: readonly ReadableSpan[], lines: readonly unknown[] = []): string {
  return JSON.stringify([lines, spans.map((span) => [span.name, span.attributes, span.status, span.events])])
}
