import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { XCom } from '@xcom/core'
import { FileObjectStore, ObjectStoreXComBackend } from '@xcom/objectstore'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metadataStoreFromUrl } from '../src/index.js'

const CHILDREN = 8
const OPS = 500
const IDENTITIES = 20
const packages = fileURLToPath(new URL('../..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'xcom-sqlite-concurrency-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

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

/** The children import the built packages (no vitest aliases there): build core, objectstore and this package. */
function buildDist(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  for (const name of ['xcom-core', 'xcom-objectstore', 'xcom-sqlite']) {
    const build = spawnSync(process.execPath, [tsc, '-p', join(packages, name, 'tsconfig.build.json')], {
      encoding: 'utf8',
    })
    if (build.status !== 0) throw new Error(`Building ${name} failed:\n${build.stdout}${build.stderr}`)
  }
}

function runChild(child: number, metadataUrl: string, root: string): Promise<Entry[]> {
  const out = join(dir, `child-${child}.json`)
  const args = [
    fileURLToPath(new URL('./concurrency-child.mjs', import.meta.url)),
    pathToFileURL(join(packages, 'xcom-sqlite', 'dist', 'index.js')).href,
    metadataUrl,
    root,
    String(child),
    String(OPS),
    String(IDENTITIES),
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
      if (code === 0) resolve(JSON.parse(readFileSync(out, 'utf8')))
      else reject(new Error(`child ${child} exited with ${code}:\n${stderr}`))
    })
  })
}

describe(`${CHILDREN} processes x ${OPS} pushes, pulls and clears on ${IDENTITIES} overlapping identities`, () => {
  beforeAll(buildDist)

  it('leaves one verified object per surviving row, consistent with the last writes, and no garbage after gc', async () => {
    const metadataUrl = `sqlite://${join(dir, 'db', 'xcom.db')}`
    const root = join(dir, 'objects')
    const logs = await Promise.all(
      Array.from({ length: CHILDREN }, (_, child) => runChild(child, metadataUrl, root)),
    )
    const entries = logs.flat()

    // Every error is a documented XComError, and the only one expected is E_NOT_FOUND: a pull whose object was purged
    // by a concurrent push or clear between its row read and its object read. Pushes and clears never fail.
    const errors = entries.filter((entry) => entry.error !== undefined)
    expect(errors.filter((entry) => entry.error !== 'E_NOT_FOUND' || entry.op !== 'pull')).toEqual([])

    // A successful pull returned a value some process pushed to that identity.
    const pushed = new Map(
      entries
        .filter((e) => e.op === 'push' && e.error === undefined)
        .map((e) => [`${e.value?.child}:${e.value?.n}`, e]),
    )
    for (const entry of entries.filter((e) => e.op === 'pull' && e.pulled)) {
      expect(pushed.get(`${entry.pulled?.child}:${entry.pulled?.n}`)?.identity).toBe(entry.identity)
    }

    const xcom = new XCom({
      metadata: await metadataStoreFromUrl(metadataUrl),
      backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 }),
    })
    try {
      const rows = await xcom.metadata.getMany({ dagId: 'concurrency' })
      expect(new Set(rows.map((row) => row.taskId)).size).toBe(rows.length)
      for (let identity = 0; identity < IDENTITIES; identity++) {
        // "Last pushed": the final state of an identity must be the effect of one of its LAST state changes, the
        // successful pushes and clears that no other successful push or clear of that identity started after (by wall clock, shared by
        // the processes). When one write clearly came last this pins the result; overlapping writes may land in
        // either order, so any of them may win, but nothing older, nothing lost, never two rows.
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
      const referenced = rows.map((row) => (row.value.kind === 'reference' ? row.value.ref.key : '')).sort()
      const objects: string[] = []
      for await (const info of new FileObjectStore({ root }).list('')) objects.push(info.key)
      expect(objects.sort()).toEqual(referenced)
    } finally {
      await xcom.close()
    }
  }, 600_000)
})
