import { AsyncLocalStorage } from 'node:async_hooks'
import { createRequire } from 'node:module'
import type * as OTel from '@opentelemetry/api'
import { readLogSettings } from './config.ts'
import { XComError } from './errors.ts'
import { type LogFormat, type Logger, type LogLevel, type LogStream, XComLogger } from './logger.ts'
import { maskText } from './mask.ts'

/** Span and metric attributes; `undefined` entries are left out. */
export type Attributes = Record<string, string | number | boolean | undefined>

/** The part of an OpenTelemetry span xcom uses (any `Span` fits). */
export interface SpanLike {
  setAttributes(attributes: Record<string, string | number | boolean>): unknown
  setStatus(status: { code: number; message?: string }): unknown
  recordException(exception: { name: string; message: string }): unknown
  isRecording(): boolean
  end(): void
}

/** The part of an OpenTelemetry tracer xcom uses: `trace.getTracer('my-app')` fits. */
export interface TracerLike {
  startSpan(name: string, options?: { kind?: number; attributes?: Attributes }, context?: unknown): SpanLike
}

/** The part of an OpenTelemetry meter xcom uses: `metrics.getMeter('my-app')` fits. */
export interface MeterLike {
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): { record(value: number, attributes?: Attributes): void }
  createCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): { add(value: number, attributes?: Attributes): void }
}

/**
 * OpenTelemetry for `new XCom({ telemetry })`. Without it xcom records through the global providers when
 * `@opentelemetry/api` is installed (nothing at all when it is not, or when no SDK is registered).
 */
export interface TelemetryOptions {
  /** @default the global tracer provider's tracer `@xcom/core` */
  tracer?: TracerLike
  /** @default the global meter provider's meter `@xcom/core` */
  meter?: MeterLike
}

/** The counters xcom keeps (see the README's Observability section). */
export type CounterName =
  | 'xcom.offloaded.values'
  | 'xcom.compression.saved'
  | 'xcom.purge.failures'
  | 'xcom.gc.deletions'
  | 'xcom.checksum.failures'

/** A span in progress, as `fn` of {@link Telemetry.span} sees it. */
export interface SpanHandle {
  /** False when nothing records it: skip computing attributes. */
  readonly recording: boolean
  /** Adds attributes (and, on an operation's span, the ones its metrics are split by). */
  set(attributes: Attributes): void
}

type Operation = 'push' | 'pull' | 'pull_stream' | 'pull_many' | 'clear' | 'gc' | 'rotate_keys'

const INSTRUMENTATION_SCOPE = '@xcom/core'
const SPAN_KIND_INTERNAL = 0
const SPAN_KIND_CLIENT = 2
const STATUS_ERROR = 2

const NOOP_HANDLE: SpanHandle = { recording: false, set() {} }

/** The telemetry of the XCom operation in progress, for backends and stores (see {@link activeTelemetry}). */
const active = new AsyncLocalStorage<Telemetry>()
/** `@opentelemetry/api`, when installed: the context an operation's span runs in carries its telemetry too. */
const otel = loadApi()
/** Where an OpenTelemetry context carries the telemetry of the XCom operation it belongs to. */
const TELEMETRY_KEY = Symbol.for('@xcom/core.telemetry')

/**
 * Spans, metrics and the logger of one XCom. `operation` wraps each call of the API (`xcom.push`...), and makes this
 * telemetry the {@link activeTelemetry} of everything the call does; `span` adds child spans (serialize, upload...).
 */
export class Telemetry {
  readonly logger: XComLogger
  readonly #api: typeof OTel | undefined
  readonly #tracer: TracerLike | undefined
  /** True when the tracer is the global provider's: then no span is made while no SDK is registered behind it. */
  readonly #globalTracer: boolean = false
  readonly #duration: ReturnType<MeterLike['createHistogram']> | undefined
  readonly #size: ReturnType<MeterLike['createHistogram']> | undefined
  readonly #counters = new Map<CounterName, ReturnType<MeterLike['createCounter']>>()
  readonly #meter: MeterLike | undefined

  /**
   * @param options.telemetry the tracer and meter, or false for none. @default the global providers'
   * @throws XComError `E_CONFIG` when a tracer or meter is given and `@opentelemetry/api` cannot be loaded.
   */
  constructor(options: { telemetry?: TelemetryOptions | false | undefined; logger?: XComLogger } = {}) {
    this.logger = options.logger ?? new XComLogger({ level: 'silent' })
    if (options.telemetry === false) return
    const wanted = options.telemetry
    this.#api = otel
    if (!this.#api) {
      if (wanted?.tracer || wanted?.meter)
        throw new XComError(
          'E_CONFIG',
          'new XCom({ telemetry }) was given a tracer or meter, but @opentelemetry/api cannot be loaded: install it beside @xcom/core.',
        )
      return
    }
    this.#tracer = wanted?.tracer ?? this.#api.trace.getTracer(INSTRUMENTATION_SCOPE)
    this.#globalTracer = wanted?.tracer === undefined
    const meter = wanted?.meter ?? this.#api.metrics.getMeter(INSTRUMENTATION_SCOPE)
    this.#meter = meter
    this.#duration = meter.createHistogram('xcom.client.operation.duration', {
      description:
        'Duration of XCom operations (push, pull, pull_stream, pull_many, clear, gc, rotate_keys).',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60] },
    })
    this.#size = meter.createHistogram('xcom.value.size', {
      description: 'Size of values pushed and pulled, serialized and before compression.',
      unit: 'By',
      advice: { explicitBucketBoundaries: [256, 4096, 65536, 1048576, 16777216, 268435456] },
    })
  }

  /** A telemetry that records nothing and logs nothing: what {@link activeTelemetry} gives outside an operation. */
  static readonly NONE = new Telemetry({ telemetry: false })

  /**
   * Runs one call of the API as span `xcom.<name>` with `attributes`, records its duration (split by
   * `xcom.location` and `error.type`) and, for push and pull, the value's size; `fn` may add attributes.
   */
  operation<T>(name: Operation, attributes: Attributes, fn: (span: SpanHandle) => Promise<T>): Promise<T> {
    const started = performance.now()
    const split: Attributes = { 'xcom.operation.name': name }
    // What a debug line says about the call: only gathered when someone will read it.
    const described = this.logger.enabled('debug') ? { ...attributes } : undefined
    let size: number | undefined
    return this.#run(`xcom.${name}`, attributes, false, async (span) => {
      const handle: SpanHandle = {
        recording: span.recording,
        set(added) {
          span.set(added)
          if (described) Object.assign(described, added)
          if (added['xcom.location'] !== undefined) split['xcom.location'] = added['xcom.location']
          if (typeof added['xcom.value.size'] === 'number') size = added['xcom.value.size']
        },
      }
      try {
        return await fn(handle)
      } catch (error) {
        split['error.type'] = errorType(error)
        throw error
      } finally {
        const seconds = (performance.now() - started) / 1000
        this.#duration?.record(seconds, split)
        if (size !== undefined && (name === 'push' || name === 'pull')) this.#size?.record(size, split)
        if (described)
          this.logger.debug(
            `${name} ${split['error.type'] ? `failed (${split['error.type']})` : 'done'} in ${(seconds * 1000).toFixed(1)} ms`,
            described,
          )
      }
    })
  }

  /**
   * Runs `fn` in a child span of the active one. A throw marks the span failed with the error's code (`error.type`)
   * and its message, secrets masked. `client: true` for calls to a remote service (upload, download, purge).
   */
  span<T>(
    name: string,
    attributes: Attributes,
    fn: (span: SpanHandle) => Promise<T>,
    options: { client?: boolean } = {},
  ): Promise<T> {
    return this.#run(name, attributes, options.client === true, fn)
  }

  /**
   * Runs `fn` in span `name` with this telemetry active. One context carries both the span and this telemetry when
   * OpenTelemetry's context manager propagates it: one frame per call instead of two.
   */
  async #run<T>(
    name: string,
    attributes: Attributes,
    client: boolean,
    fn: (span: SpanHandle) => Promise<T>,
  ): Promise<T> {
    const api = this.#api
    const tracer = this.#tracer
    if (!api || !tracer || (this.#globalTracer && !sdkRegistered(api))) return this.#activate(fn, NOOP_HANDLE)
    const parent = api.context.active()
    const span = tracer.startSpan(name, { kind: client ? SPAN_KIND_CLIENT : SPAN_KIND_INTERNAL }, parent)
    const recording = span.isRecording()
    // Attributes are copied only for a span that records them: a no-op tracer costs one call and no garbage.
    if (recording) span.setAttributes(defined(attributes))
    const handle: SpanHandle = {
      recording,
      set: (added) => {
        if (recording) span.setAttributes(defined(added))
      },
    }
    const context = api.trace.setSpan(parent, span as OTel.Span).setValue(TELEMETRY_KEY, this)
    try {
      return await api.context.with(context, () =>
        // Without a context manager (the API's no-op one) the context is not propagated: xcom's own storage is.
        api.context.active() === context ? fn(handle) : this.#activate(fn, handle),
      )
    } catch (error) {
      if (recording) failSpan(span, error)
      throw error
    } finally {
      span.end()
    }
  }

  /** Runs `fn` with this telemetry active in xcom's own async storage, unless it already is. */
  #activate<T>(fn: (span: SpanHandle) => Promise<T>, handle: SpanHandle): Promise<T> {
    const outer = otel?.context.active()
    // An enclosing operation of another XCom may be carried by OpenTelemetry's context: it must not answer for this one.
    if (outer?.getValue(TELEMETRY_KEY) !== undefined && outer.getValue(TELEMETRY_KEY) !== this)
      return otel!.context.with(outer.deleteValue(TELEMETRY_KEY), () => active.run(this, fn, handle))
    return active.getStore() === this ? fn(handle) : active.run(this, fn, handle)
  }

  /** Adds `value` to counter `name`. */
  count(name: CounterName, value: number, attributes?: Attributes): void {
    const meter = this.#meter
    if (!meter || value <= 0) return
    let counter = this.#counters.get(name)
    if (!counter) {
      counter = meter.createCounter(name, COUNTERS[name])
      this.#counters.set(name, counter)
    }
    counter.add(value, attributes && defined(attributes))
  }
}

/**
 * The telemetry of the XCom operation this code runs in (a backend's hook, a store's request, an SDK's retry
 * callback), or {@link Telemetry.NONE} outside one: adapters log and trace through it without being handed a logger.
 */
export function activeTelemetry(): Telemetry {
  const carried = otel?.context.active().getValue(TELEMETRY_KEY) as Telemetry | undefined
  return carried ?? active.getStore() ?? Telemetry.NONE
}

const COUNTERS: Record<CounterName, { description: string; unit: string }> = {
  'xcom.offloaded.values': { description: 'Values pushed to object storage.', unit: '{value}' },
  'xcom.compression.saved': {
    description: 'Bytes compression saved on values pushed to object storage.',
    unit: 'By',
  },
  'xcom.purge.failures': {
    description: 'Purges of replaced or cleared values that failed (gc retries them).',
    unit: '{purge}',
  },
  'xcom.gc.deletions': { description: 'Unreferenced objects deleted by gc.', unit: '{object}' },
  'xcom.checksum.failures': {
    description: 'Values whose stored bytes failed their size or checksum check.',
    unit: '{value}',
  },
}

/**
 * Whether an SDK stands behind the global tracer provider. Until one registers, the API's provider is a proxy with no
 * delegate and every span would be a no-op: skipping them keeps xcom's cost without an SDK to one property lookup.
 */
function sdkRegistered(api: typeof OTel): boolean {
  const provider = api.trace.getTracerProvider() as { getDelegateTracer?: (name: string) => unknown }
  return (
    typeof provider.getDelegateTracer !== 'function' ||
    provider.getDelegateTracer(INSTRUMENTATION_SCOPE) !== undefined
  )
}

/** `@opentelemetry/api` when installed (an optional peer), else undefined: then nothing is recorded. */
function loadApi(): typeof OTel | undefined {
  try {
    return createRequire(import.meta.url)('@opentelemetry/api') as typeof OTel
  } catch {
    return undefined
  }
}

/** The `error.type` of an error: its XComError code, else its class name. */
export function errorType(error: unknown): string {
  if (XComError.is(error)) return error.code
  return error instanceof Error ? error.name : 'Error'
}

function failSpan(span: SpanLike, error: unknown): void {
  const type = errorType(error)
  const message = maskText(error instanceof Error ? error.message : String(error))
  span.setAttributes({ 'error.type': type })
  span.setStatus({ code: STATUS_ERROR, message })
  span.recordException({ name: type, message })
}

function defined(attributes: Attributes): Record<string, string | number | boolean> {
  const result: Record<string, string | number | boolean> = {}
  for (const name in attributes) {
    const value = attributes[name]
    if (value !== undefined) result[name] = value
  }
  return result
}

/** One request an adapter's SDK retries: what, on which object, which attempt comes next, and why. */
export interface RetriedRequest {
  /** The SDK operation, e.g. `PutObject`, `PUT block`, `objects.insert`. */
  operation: string
  /** The object's URI (never a signed URL). */
  uri: string
  /** The attempt about to be made (2 for the first retry). */
  attempt: number
  /** Why the previous attempt failed, in codes only: `503 SlowDown`, `ECONNRESET`. */
  reason: string
}

/** Logs a retried request at `info` through the active XCom operation's logger (nothing outside one). */
export function logRetry(request: RetriedRequest): void {
  const { operation, uri, attempt, reason } = request
  activeTelemetry().logger.info(`Retrying ${operation} of ${uri}: attempt ${attempt} after ${reason}.`, {
    uri,
    operation,
    attempt,
    reason,
  })
}

/**
 * The telemetry of `new XCom(options)`: its tracer and meter (or the global ones), and a logger at `logLevel` (else
 * XCOM_LOG_LEVEL of the process, else `warn`) writing to `logger`, or to `logStream` in `logFormat`.
 */
export function telemetryOf(options: {
  telemetry?: TelemetryOptions | false | undefined
  logger?: Logger | undefined
  logLevel?: LogLevel | undefined
  logFormat?: LogFormat | undefined
  logStream?: LogStream | undefined
}): Telemetry {
  const fromEnv = options.logLevel && options.logFormat ? {} : readLogSettings(process.env)
  return new Telemetry({
    telemetry: options.telemetry,
    logger: new XComLogger({
      ...(options.logger ? { logger: options.logger } : {}),
      level: options.logLevel ?? fromEnv.level ?? 'warn',
      format: options.logFormat ?? fromEnv.format ?? 'text',
      ...(options.logStream ? { stream: options.logStream } : {}),
    }),
  })
}
