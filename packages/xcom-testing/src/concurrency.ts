import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type MetadataStore, XCom, type XComBackend } from '@xcom/core'
import { expect } from 'vitest'

/** Options of {@link expectConcurrentProcessesConsistent}. */
export interface ConcurrentProcessesOptions {
  /** URL of the BUILT module of the metadata store under test; it must export `metadataStoreFactory(url)`. */
  storeModule: string
  /** URL of the BUILT `@xcom/objectstore` (values go through `ObjectStoreXComBackend` to a `FileObjectStore`). */
  objectStoreModule: string
  /** The metadata database every process opens with `metadataStoreFactory`. */
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

interface ObjectStoreModule {
  FileObjectStore: new (options: {
    root: string
  }) => { list(prefix: string): AsyncIterable<{ objectKey: string }> }
  ObjectStoreXComBackend: new (options: { store: unknown; threshold: number }) => XComBackend
  /** True for keys of values (not the prefix's database claim). */
  isObjectKey(key: string): boolean
}

/**
 * Runs `processes` Node processes that each push, pull and clear values on overlapping identities through the
 * metadata store under test (and the object storage backend on files), then checks, with vitest's `expect`, what a
 * correct store must guarantee: pushes and clears never fail (only a pull racing a purge may get `E_NOT_FOUND`), every
 * pull returned a value pushed to its identity, each surviving row is one of the last writes to its identity and
 * reads back verified, and after `gc` exactly the referenced objects remain. The packages must be built first (the
 * processes import the built code). Give the enclosing test a long timeout (minutes).
 */
export async function expectConcurrentProcessesConsistent(
  options: ConcurrentProcessesOptions,
): Promise<void> {
  const { processes = 8, operations = 500, identities = 20 } = options
  const root = join(options.dir, 'objects')
  mkdirSync(root, { recursive: true })
  const logs = await Promise.all(
    Array.from({ length: processes }, (_, child) => runChild(child, options, root, operations, identities)),
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

  const { metadataStoreFactory } = (await import(options.storeModule)) as {
    metadataStoreFactory(url: string): Promise<MetadataStore>
  }
  const { FileObjectStore, ObjectStoreXComBackend, isObjectKey } = (await import(
    options.objectStoreModule
  )) as ObjectStoreModule
  const xcom = new XCom({
    metadata: await metadataStoreFactory(options.metadataUrl),
    backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 }),
  })
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
      const last = writes.filter((write) => !writes.some((other) => other.start > write.end))
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
    const objects: string[] = []
    for await (const info of new FileObjectStore({ root }).list(''))
      if (isObjectKey(info.objectKey)) objects.push(info.objectKey)
    expect(objects.sort()).toEqual(referenced)
  } finally {
    await xcom.close()
  }
}

/**
 * Builds TypeScript projects (paths of their tsconfig files) with the `tsc` that `from` resolves, in order: for
 * processes that import the built code, such as those of {@link expectConcurrentProcessesConsistent}.
 * @throws Error with the compiler's output when a build fails.
 */
export function buildWithTsc(projects: readonly string[], from: string | URL): void {
  const tsc = createRequire(from).resolve('typescript/bin/tsc')
  for (const project of projects) {
    const build = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' })
    if (build.status !== 0) throw new Error(`Building ${project} failed:\n${build.stdout}${build.stderr}`)
  }
}

/** The child script: its TypeScript source when this module runs from source (Node strips the types), else the build. */
const CHILD = fileURLToPath(
  new URL(
    import.meta.url.endsWith('.ts') ? './concurrency-child.ts' : './concurrency-child.js',
    import.meta.url,
  ),
)

function runChild(
  child: number,
  options: ConcurrentProcessesOptions,
  root: string,
  operations: number,
  identities: number,
): Promise<Entry[]> {
  const out = join(options.dir, `child-${child}.json`)
  const args = [
    CHILD,
    options.storeModule,
    options.objectStoreModule,
    options.metadataUrl,
    root,
    String(child),
    String(operations),
    String(identities),
    out,
  ]
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
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
