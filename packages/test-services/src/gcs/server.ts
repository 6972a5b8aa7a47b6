/**
 * The project's GCS JSON-API test server: enough of https://storage.googleapis.com/storage/v1 on node:http, in memory,
 * for the unmodified @google-cloud/storage SDK (via `apiEndpoint`) and for raw HTTP clients. This file starts and
 * stops it and builds the handle tests use; `state.ts` holds the data, `router.ts` and the handlers answer requests.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { listenRetrying } from '../free-port.ts'
import { ChunkedBytes } from './bytes.ts'
import { type Fault, FaultInjector, type FaultRule } from './faults.ts'
import { createRouter } from './router.ts'
import { GcsState } from './state.ts'

/** Options of {@link startGcsServer}. */
export interface GcsServerOptions {
  /**
   * The project id clients should pass (`new Storage({ apiEndpoint, projectId })`).
   * @default 'test'
   */
  projectId?: string
  /**
   * The port to listen on (always on 127.0.0.1).
   * @default 0 (a free port chosen by the operating system)
   */
  port?: number
  /**
   * The largest object accepted, in bytes; larger uploads get 413.
   * @default 536870912 (512 MiB)
   */
  maxObjectSize?: number
  /**
   * Buckets to create before resolving.
   * @default []
   */
  buckets?: string[]
}

/** One answered request, as recorded by {@link GcsServerHandle.requests}. */
export interface LoggedRequest {
  /** The HTTP method. */
  readonly method: string
  /** The request target as sent: path and query. */
  readonly target: string
  /** The status answered (0 when the connection was dropped by a `reset` fault). */
  readonly status: number
  /** The request's `Content-Range` header, if any (resumable uploads). */
  readonly contentRange: string | undefined
}

/** A running GCS JSON-API test server. */
export interface GcsServerHandle {
  /** `http://127.0.0.1:PORT`, for `new Storage({ apiEndpoint, projectId })` (or STORAGE_EMULATOR_HOST). */
  readonly apiEndpoint: string
  /** The project id to pass to the SDK. */
  readonly projectId: string
  /**
   * Fails the next matching requests, after reading their body, with a status or a dropped connection.
   * Faults are checked in the order they were added; each request consumes at most one.
   *
   * SDK caveats (@google-cloud/storage 8.4): uploads are retried only with a precondition (`ifGenerationMatch`);
   * after a `save(..., { resumable: false })` without one, that `Storage` instance never retries again, so use a
   * fresh `Storage` for retry tests. See {@link FaultRule.includeMediaDownloads} for the media GET crash.
   */
  failNext(rule?: FaultRule): Fault
  /** Removes every pending fault. */
  clearFaults(): void
  /** The last 1000 requests, oldest first (a copy). */
  requests(): LoggedRequest[]
  /**
   * Flips the first stored byte of an object (or stores one byte for an empty object) without touching its
   * `crc32c`, `md5Hash` or `size`, so a validating client must reject the download.
   * @throws Error when the bucket or object does not exist
   */
  corruptObject(bucket: string, name: string): void
  /** Deletes an object behind the client's back. Returns whether it existed. */
  deleteObject(bucket: string, name: string): boolean
  /** The stored bytes of an object (a copy), or `undefined` when it does not exist. */
  readObject(bucket: string, name: string): Buffer | undefined
  /**
   * Takes the server down the way a crash looks to clients, keeping the stored data (a real GCS loses nothing in an
   * outage): resets every open connection, so requests in flight fail, and closes the port. Resolves once the port is
   * free; does nothing when already down.
   */
  down(): Promise<void>
  /** Listens again on the same port after {@link down}, serving the same data. Does nothing when already up. */
  up(): Promise<void>
  /** Closes the server, drops every connection and all stored data. Safe to call twice. */
  stop(): Promise<void>
}

const DEFAULT_MAX_OBJECT_SIZE = 512 * 1024 * 1024
const LOG_SIZE = 1000

/**
 * Starts the GCS JSON-API test server on 127.0.0.1, with in-memory storage.
 *
 * Implemented: bucket insert/get/list/delete; media, multipart and resumable uploads (single streamed PUT, chunked
 * PUTs with 308 + Range, status queries); object get/patch/delete; `alt=media` downloads with Range; listing with
 * prefix, delimiter, startOffset, endOffset, includeTrailingDelimiter, maxResults and opaque page tokens;
 * `ifGenerationMatch`, `ifGenerationNotMatch`, `ifMetagenerationMatch`, `ifMetagenerationNotMatch`; crc32c and md5Hash.
 * Anything else under `/b/...` answers 501; see the package README for the full list.
 *
 * @param options - project id, port, size limit and buckets to create
 * @returns the running server's handle
 * @throws Error when the server cannot listen, or a bucket name in `options.buckets` is invalid
 */
export async function startGcsServer(options: GcsServerOptions = {}): Promise<GcsServerHandle> {
  const projectId = options.projectId ?? 'test'
  const state = new GcsState()
  const faults = new FaultInjector()
  const log: LoggedRequest[] = []
  let apiEndpoint = ''

  const route = createRouter({
    state,
    faults,
    maxObjectSize: options.maxObjectSize ?? DEFAULT_MAX_OBJECT_SIZE,
    endpoint: () => apiEndpoint,
  })
  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    res.once('close', () => {
      log.push({
        method: req.method ?? '',
        target: req.url ?? '',
        status: res.headersSent ? res.statusCode : 0,
        contentRange: req.headers['content-range'],
      })
      if (log.length > LOG_SIZE) log.shift()
    })
    route(req, res)
  })
  // Keep idle sockets open longer than clients do, so a client never reuses a socket the server is closing (ECONNRESET).
  server.keepAliveTimeout = 120_000
  const listen = (port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: '127.0.0.1', port }, () => {
        server.off('error', reject)
        resolve()
      })
    })
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      server.closeAllConnections()
    })
  await listen(options.port ?? 0)
  const port = (server.address() as AddressInfo).port
  apiEndpoint = `http://127.0.0.1:${port}`

  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= close().then(() => {
      state.clear()
      faults.clear()
    })
    return stopped
  }

  try {
    for (const name of options.buckets ?? []) state.createBucket({ name })
  } catch (error) {
    await stop()
    throw new Error(`Cannot create bucket: ${(error as Error).message}`, { cause: error })
  }

  return {
    apiEndpoint,
    projectId,
    failNext: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    requests: () => [...log],
    corruptObject(bucket, name) {
      const object = state.findObject(bucket, name)
      if (!object) throw new Error(`corruptObject: no object ${bucket}/${name}`)
      const bytes = object.data.length === 0 ? Buffer.from([0x78]) : object.data.copy()
      if (object.data.length > 0) bytes[0] = bytes[0]! ^ 0xff
      object.data = new ChunkedBytes([bytes])
    },
    deleteObject: (bucket, name) => state.deleteObject(bucket, name),
    readObject: (bucket, name) => state.findObject(bucket, name)?.data.copy(),
    down: close,
    up: async () => {
      if (stopped) throw new Error('The GCS test server was stopped: start a new one')
      if (!server.listening) await listenRetrying(port, () => listen(port))
    },
    stop,
  }
}
