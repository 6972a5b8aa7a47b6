import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ENV_VARIABLES, type Env, XCom } from '@xcom/core'
import { expect } from 'vitest'
import { runsTypeScriptChildren, sourceNodeFlags } from './children.ts'

/**
 * Options of {@link expectConcurrentProcessesConsistent}. Every process, and the final check, builds its XCom with
 * `XCom.fromEnv` from `XCOM_METADATA_URL=<metadataUrl>`, `XCOM_OBJECTSTORAGE_PATH=file://<dir>/objects` and
 * `XCOM_OBJECTSTORAGE_THRESHOLD=0` (every value goes to object storage), so the metadata store adapter is the one
 * `XCom.fromEnv` picks by the URL's scheme and `@xcom/objectstore` holds the values.
 */
export interface ConcurrentProcessesOptions {
  /** The metadata database every process opens (`sqlite://...`, `postgres://...`): its `XCOM_METADATA_URL`. */
  metadataUrl: string
  /** An empty working directory: the object files and the processes' logs go there. */
  dir: string
  /** @default 8 */
  processes?: number
  /** Pushes, pulls and clears per process. @default 500 */
  operations?: number
  /** Identities the operations spread over (they overlap on purpose). @default 20 */
  identities?: number
}

/** One operation of one process, with wall-clock start and end (comparable across processes of one machine). */
interface Entry {
  identity: number
  op: 'push' | 'pull' | 'clear'
  start: number
  end: number
  value?: { child: number; n: number }
  pulled?: { child: number; n: number } | null
  error?: string
  message?: string
}

/**
 * Runs `processes` Node processes that each push, pull and clear values on overlapping identities through the
 * metadata store under test (and the object storage backend on files), then checks, with vitest's `expect`, what a
 * correct store must guarantee: pushes and clears never fail (only a pull racing a purge may get `E_NOT_FOUND`), every
 * pull returned a value pushed to its identity, each surviving row is one of the last writes to its identity and
 * reads back verified, and after `gc` exactly the referenced objects remain.
 *
 * The processes and the check build their XCom with `XCom.fromEnv` (see {@link ConcurrentProcessesOptions}), resolving
 * the adapters from the working directory: run it from the package under test (as vitest does), which has the
 * metadata store adapter and `@xcom/objectstore` among its dependencies. From this package's TypeScript sources the
 * processes run the sources too ({@link sourceNodeFlags}); nothing needs to be built. Give the enclosing test a long
 * timeout (minutes).
 */
export async function expectConcurrentProcessesConsistent(
  options: ConcurrentProcessesOptions,
): Promise<void> {
  const { processes = 8, operations = 500, identities = 20 } = options
  const root = join(options.dir, 'objects')
  mkdirSync(root, { recursive: true })
  const env = xcomEnv(options.metadataUrl, root)
  const logs = await Promise.all(
    Array.from({ length: processes }, (_, child) =>
      runChild(child, env, options.dir, operations, identities),
    ),
  )
  const entries = logs.flat()

  // Every error is a documented XComError, and the only one expected is E_NOT_FOUND: a pull whose object was purged
  // by a concurrent push or clear between its row read and its object read. Pushes and clears never fail.
  const errors = entries.filter((entry) => entry.error !== undefined)
  expect(errors.filter((entry) => entry.error !== 'E_NOT_FOUND' || entry.op !== 'pull')).toEqual([])

  // A successful pull returned a value some process pushed to that identity.
  const pushed = new Map(
    entries
      .filter((entry) => entry.op === 'push' && entry.error === undefined)
      .map((entry) => [`${entry.value?.child}:${entry.value?.n}`, entry]),
  )
  for (const entry of entries.filter((e) => e.op === 'pull' && e.pulled)) {
    expect(pushed.get(`${entry.pulled?.child}:${entry.pulled?.n}`)?.identity).toBe(entry.identity)
  }

  const xcom = await XCom.fromEnv(env)
  try {
    const rows = await xcom.metadata.getMany({ dagId: 'concurrency' })
    expect(new Set(rows.map((row) => row.taskId)).size).toBe(rows.length)
    for (let identity = 0; identity < identities; identity++) {
      // The final state of an identity must be the effect of one of its LAST state changes: the successful pushes
      // and clears that no other successful push or clear of that identity started after (by wall clock, shared by
      // the processes). When one write clearly came last this pins the result; overlapping writes may land in either
      // order, so any of them may win, but nothing older, nothing lost, never two rows.
      const writes = entries.filter(
        (e) => e.identity === identity && e.op !== 'pull' && e.error === undefined,
      )
      const last = writes.filter((write) => !writes.some((other) => other.start > write.end + CLOCK_SKEW_MS))
      const row = rows.find((r) => r.taskId === `task-${identity}`)
      if (!row) {
        expect(writes.length === 0 || last.some((write) => write.op === 'clear')).toBe(true)
        continue
      }
      expect(row.value.kind).toBe('reference')
      // pull downloads the object and verifies its checksum.
      const value = await xcom.pull({ dagId: 'concurrency', runId: 'run', taskId: `task-${identity}` })
      expect(last.filter((write) => write.op === 'push').map((write) => write.value)).toContainEqual(value)
    }

    const report = await xcom.gc({ graceMs: 0 })
    expect(report.purgesFailed).toBe(0)
    expect(await xcom.metadata.pendingPurges(100)).toEqual([])
    const referenced = rows
      .map((row) => (row.value.kind === 'reference' ? row.value.ref.objectKey : ''))
      .sort()
    expect(valueObjectKeys(root)).toEqual(referenced)
  } finally {
    await xcom.close()
  }
}

/**
 * The environment of the processes and of the check: this process's, without any xcom setting it may carry, plus the
 * metadata URL and object storage on files under `root` with a threshold of 0.
 */
function xcomEnv(metadataUrl: string, root: string): Env {
  const settings = new Set<string>(Object.values(ENV_VARIABLES).flat())
  const env: Env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !settings.has(name)))
  return {
    ...env,
    XCOM_METADATA_URL: metadataUrl,
    XCOM_OBJECTSTORAGE_PATH: pathToFileURL(root).href,
    XCOM_OBJECTSTORAGE_THRESHOLD: '0',
  }
}

/**
 * The keys of the value objects in a `file://` store, sorted: every file below a subdirectory of `root`. Values'
 * keys have several segments (`<dagId>/<runId>/.../<id>.json`); files at the root (the prefix's database claim) are
 * not values, and `.xcom` holds the store's own sidecars and temporary files.
 */
function valueObjectKeys(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter((key) => key.includes('/') && !key.startsWith('.xcom/'))
    .sort()
}

/**
 * How far apart the clocks of two processes may read (each is its own `performance.timeOrigin` plus a monotonic
 * offset): a write that starts less than this after another ends may still have run before it.
 */
const CLOCK_SKEW_MS = 5

/** True when this module runs from its TypeScript source: the child does too, and the workspace's packages with it. */
const FROM_SOURCE = import.meta.url.endsWith('.ts')

/** The child script, beside this module. */
const CHILD = fileURLToPath(
  new URL(FROM_SOURCE ? './concurrency-child.ts' : './concurrency-child.js', import.meta.url),
)

function runChild(
  child: number,
  env: Env,
  dir: string,
  operations: number,
  identities: number,
): Promise<Entry[]> {
  if (FROM_SOURCE && !runsTypeScriptChildren) {
    throw new Error('The concurrency processes run TypeScript sources: they need Node.js >= 22.6.')
  }
  const out = join(dir, `child-${child}.json`)
  const args = [
    ...(FROM_SOURCE ? sourceNodeFlags() : []),
    '--no-warnings',
    CHILD,
    String(child),
    String(operations),
    String(identities),
    out,
  ]
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    process_.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    process_.on('error', reject)
    process_.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(readFileSync(out, 'utf8')) as Entry[])
      else reject(new Error(`process ${child} exited with ${code}:\n${stderr}`))
    })
  })
}
