import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { listenRetrying } from './free-port.ts'

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
const ACCOUNT_NAME = 'devstoreaccount1'
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

/**
 * Preloaded into the child: it exits when its parent's IPC channel closes, so a test runner that dies (even by
 * SIGKILL) leaves no azurite behind. The channel is unref'd so it never keeps the child alive on its own.
 */
const WATCHDOG = "data:text/javascript,process.on('disconnect',()=>process.exit(0));process.channel?.unref();"

/** Options of {@link startAzurite}. */
export interface AzuriteOptions {
  /**
   * The port for the blob service.
   * @default 0 (a free port chosen by the operating system, read back from azurite's output)
   */
  port?: number
  /**
   * How long to wait for azurite to listen, in milliseconds.
   * @default 30000
   */
  startTimeoutMs?: number
  /**
   * The directory azurite stores into (its `--location`): blobs and metadata survive a `stop()` there, so a later
   * `startAzurite({ port, location })` serves the same data again. A directory given here is never removed; create
   * the container once, on the first start.
   * @default a fresh temporary directory, removed by `stop()`
   */
  location?: string
  /**
   * Containers to create before resolving (kept when they already exist in `location`, so a restart may pass the
   * same list).
   * @default []
   */
  containers?: string[]
}

/** A running azurite blob service. */
export interface AzuriteHandle {
  /** A connection string for `BlobServiceClient.fromConnectionString`. */
  readonly connectionString: string
  /** `http://127.0.0.1:PORT/devstoreaccount1`. */
  readonly blobEndpoint: string
  /** `devstoreaccount1`. */
  readonly accountName: string
  /** The well-known development key of `devstoreaccount1`. */
  readonly accountKey: string
  /** The directory azurite stores into (removed by `stop()` only when the launcher created it). */
  readonly location: string
  /** The child process id (it is gone once `stop()` resolves). */
  readonly pid: number
  /**
   * Stops the child (SIGTERM, then SIGKILL after 5 s), resolving once it has exited (its port is free then), and
   * removes the directory if the launcher created it. Safe to call twice.
   */
  stop(): Promise<void>
}

/** The `azurite-blob` entry point, from azurite's own package.json. */
function azuriteBlobBin(): string {
  const require = createRequire(import.meta.url)
  const packageJson = require.resolve('azurite/package.json')
  const bin = (JSON.parse(readFileSync(packageJson, 'utf8')) as { bin?: Record<string, string> }).bin?.[
    'azurite-blob'
  ]
  if (!bin) throw new Error('The installed azurite package has no "azurite-blob" bin')
  return join(dirname(packageJson), bin)
}

/** The parent's environment without `AZURITE_DB`, which would switch azurite to a SQL metadata store. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.AZURITE_DB
  return env
}

/** Every live child, killed synchronously if the test runner exits without calling stop(). */
const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false
function killChildrenOnExit(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL')
  })
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Waits for azurite's "successfully listens on http://HOST:PORT" line and returns the port. */
function readPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let output = ''
    const settle = (): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      child.off('error', onError)
      child.off('exit', onExit)
      // keep draining so a chatty child never blocks on a full pipe
      child.stdout?.resume()
      child.stderr?.resume()
    }
    const fail = (why: string): void => {
      settle()
      reject(new Error(`azurite-blob ${why}. Its output:\n${output.slice(-2000)}`))
    }
    const onData = (data: Buffer): void => {
      output += data.toString()
      const match = /successfully listens on https?:\/\/[^\s]+:(\d+)/.exec(output)
      if (match) {
        settle()
        resolve(Number(match[1]))
      }
    }
    const onError = (error: Error): void => fail(`could not be spawned (${error.message})`)
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`exited before listening (code ${code}, signal ${signal})`)
    const timer = setTimeout(() => fail(`did not listen within ${timeoutMs} ms`), timeoutMs)
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('error', onError)
    child.once('exit', onExit)
  })
}

/**
 * Starts azurite's blob service in a child process on 127.0.0.1, with `--skipApiVersionCheck --loose --silent
 * --disableTelemetry` and its data in `options.location` or a fresh temporary directory. (azurite's package exports
 * no in-process API for the blob server, only its bins.)
 *
 * @param options - port, start timeout, data directory and containers to create
 * @returns the running service's handle
 * @throws Error when azurite is not installed, exits early, does not listen within `startTimeoutMs`, or a container
 *   cannot be created (the child is killed and a directory the launcher created is removed)
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteHandle> {
  const ownLocation = options.location === undefined
  const location = options.location ?? (await mkdtemp(join(tmpdir(), 'xcom-azurite-')))
  const removeLocation = (): Promise<void> =>
    ownLocation ? rm(location, { recursive: true, force: true }) : Promise.resolve()
  const spawnChild = (): ChildProcess => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        WATCHDOG,
        azuriteBlobBin(),
        ...['--blobHost', '127.0.0.1', '--blobPort', String(options.port ?? 0), '--location', location],
        ...['--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: childEnv() },
    )
    liveChildren.add(child)
    killChildrenOnExit()
    child.once('exit', () => liveChildren.delete(child))
    return child
  }
  const stopChild = async (child: ChildProcess): Promise<void> => {
    if (!(await waitForExit(child, 0))) {
      child.kill('SIGTERM')
      if (!(await waitForExit(child, 5000))) {
        child.kill('SIGKILL')
        await waitForExit(child, 5000)
      }
    }
  }

  const { running, port } = await listenRetrying(options.port, async () => {
    const child = spawnChild()
    try {
      return { running: child, port: await readPort(child, options.startTimeoutMs ?? 30_000) }
    } catch (error) {
      await stopChild(child)
      throw error
    }
  }).catch(async (error: unknown) => {
    await removeLocation()
    throw error
  })

  let stopped: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await stopChild(running)
      await removeLocation()
    })()
    return stopped
  }

  try {
    for (const stream of [running.stdout, running.stderr])
      (stream as unknown as { unref?: () => void } | null)?.unref?.()
    running.channel?.unref()
    running.unref()

    const blobEndpoint = `http://127.0.0.1:${port}/${ACCOUNT_NAME}`
    const connectionString =
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT_NAME};AccountKey=${ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};`
    if (options.containers?.length) {
      // Loaded only here: the SDK is the simplest correct way to sign the requests (SharedKey).
      const { BlobServiceClient } = await import('@azure/storage-blob')
      const service = BlobServiceClient.fromConnectionString(connectionString)
      for (const name of options.containers) await service.getContainerClient(name).createIfNotExists()
    }
    return {
      connectionString,
      blobEndpoint,
      accountName: ACCOUNT_NAME,
      accountKey: ACCOUNT_KEY,
      location,
      pid: running.pid ?? -1,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
