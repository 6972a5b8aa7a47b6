import { mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listenRetrying } from './free-port.ts'

/** The part of s3rver's API this launcher uses (the package ships no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>
  close(): Promise<void>
  httpServer?: Server
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance

/** Options of {@link startS3rver}. */
export interface S3rverOptions {
  /**
   * A bucket to create before resolving; its name is then in the handle's `bucket`.
   * Must be a valid S3 bucket name (3 to 63 characters: lowercase letters, digits, `.` and `-`).
   * @default no bucket
   */
  bucket?: string
  /**
   * The port to listen on.
   * @default 0 (a free port chosen by the operating system)
   */
  port?: number
  /**
   * The directory s3rver stores its buckets in: they survive a `stop()` there, so a later
   * `startS3rver({ port, directory })` serves the same data again. A directory given here is never removed.
   * @default a fresh temporary directory, removed by `stop()`
   */
  directory?: string
}

/** A running s3rver. */
export interface S3rverHandle {
  /** `http://127.0.0.1:PORT`; use it with `forcePathStyle: true`. */
  readonly endpoint: string
  /** The region clients should sign for: `'us-east-1'`. */
  readonly region: string
  /** s3rver's fixed credentials (`S3RVER` / `S3RVER`). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  /** Always `true`: s3rver serves path-style URLs on a bare IP address. */
  readonly forcePathStyle: true
  /** The directory holding the buckets (removed by `stop()` only when the launcher created it). */
  readonly directory: string
  /** The bucket created from `options.bucket`, if any. */
  readonly bucket?: string
  /**
   * Creates a bucket through the S3 API.
   * @throws Error when the name is refused (e.g. `InvalidBucketName` for names shorter than 3 characters)
   */
  createBucket(name: string): Promise<void>
  /**
   * Closes the server, resetting every open connection (requests in flight fail), and resolves once the port is
   * free; then removes the directory if the launcher created it. Safe to call twice.
   */
  stop(): Promise<void>
}

/**
 * Starts s3rver on 127.0.0.1 with its data in `options.directory` or a fresh temporary directory.
 *
 * @param options - port, data directory and an optional bucket to create
 * @returns the running server's handle
 * @throws Error when s3rver cannot listen or the bucket cannot be created (a directory the launcher created is removed again)
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverHandle> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor
  const ownDirectory = options.directory === undefined
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'xcom-s3rver-')))
  const make = (): S3rverInstance =>
    new S3rver({
      address: '127.0.0.1',
      port: options.port ?? 0,
      silent: true,
      directory,
      resetOnClose: false,
    })
  let server = make()
  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (server.httpServer?.listening) {
        const closing = server.close().catch(() => undefined)
        server.httpServer?.closeAllConnections()
        await closing
      }
      if (ownDirectory) await rm(directory, { recursive: true, force: true })
    })()
    return stopped
  }
  try {
    const address: AddressInfo = await listenRetrying(options.port, async () => {
      try {
        return await server.run()
      } catch (error) {
        server = make() // a failed run() leaves that instance unusable
        throw error
      }
    })
    const endpoint = `http://127.0.0.1:${address.port}`
    const createBucket = async (name: string): Promise<void> => {
      const response = await fetch(`${endpoint}/${encodeURIComponent(name)}`, { method: 'PUT' })
      const body = await response.text()
      if (!response.ok) {
        const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? `HTTP ${response.status}`
        throw new Error(
          `s3rver refused to create bucket "${name}": ${code}. Use a valid S3 bucket name (3+ characters).`,
        )
      }
    }
    if (options.bucket !== undefined) await createBucket(options.bucket)
    return {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
      directory,
      ...(options.bucket === undefined ? {} : { bucket: options.bucket }),
      createBucket,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
