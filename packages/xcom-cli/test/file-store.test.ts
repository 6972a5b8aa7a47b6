import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdtemp, readdir, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from '../src/exit-codes.ts'
import { xcom } from './run.ts'

let dir: string
let env: Record<string, string>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-cli-'))
  env = {
    XCOM_METADATA_URL: `sqlite://${join(dir, 'xcom.db')}`,
    XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'objects')}`,
    XCOM_OBJECTSTORAGE_THRESHOLD: '64',
  }
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Every object file under the store (the claim and the store's own `.xcom` folder left out). */
async function objectFiles(): Promise<string[]> {
  const root = join(dir, 'objects')
  if (!existsSync(root)) return []
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries
    .filter(
      (entry) =>
        entry.isFile() && /\.(json|bin)$/.test(entry.name) && !entry.name.startsWith('xcom-database'),
    )
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !path.includes(`${join(root, '.xcom')}`))
}

async function objectOf(task: string): Promise<string> {
  const found = (await objectFiles()).filter((path) => path.includes(`/etl/r1/${task}/`))
  expect(found).toHaveLength(1)
  return found[0] as string
}

describe('xcom on sqlite + file://, as a user runs it', () => {
  const big = { rows: Array.from({ length: 40 }, (_, index) => ({ index, name: `row ${index}` })) }
  const bytes = randomBytes(200_000)

  it('push stores inline and offloaded values from --json, --file and stdin', async () => {
    const small = await xcom(['push', 'etl', 'r1', 'small', '--json', '{"a": 1}'], env)
    expect(small.code).toBe(EXIT.ok)
    expect(small.stderr).toContain('pushed etl/r1/small/return_value')
    expect((await xcom(['push', 'etl', 'r1', 'big', '--json', JSON.stringify(big)], env)).code).toBe(0)
    const file = join(dir, 'in.bin')
    await writeFile(file, bytes)
    expect((await xcom(['push', 'etl', 'r1', 'blob', '--file', file], env)).code).toBe(0)
    const piped = await xcom(['push', 'etl', 'r1', 'mapped', '--key', 'numbers', '--map-index', '2'], env, {
      stdin: '[1, 2, 3]\n',
    })
    expect(piped.code).toBe(0)
    expect(await objectFiles()).toHaveLength(2)
  })

  it('ls lists every XCom with its location, and --json parses', async () => {
    const table = await xcom(['ls'], env)
    expect(table.code).toBe(0)
    for (const task of ['small', 'big', 'blob', 'mapped']) expect(table.stdout).toContain(task)
    expect(table.stdout).toContain('inline')
    expect(table.stdout).toContain('file://')
    // Piped output: no colours, no progress bars, nothing but text.
    expect(table.stdout + table.stderr).not.toMatch(/\u001b\[/)
    const json = await xcom(['ls', '--json', '--page-size', '2'], env)
    const rows = JSON.parse(json.stdout) as { taskId: string; kind: string; mapIndex: number; key: string }[]
    expect(rows.map((row) => [row.taskId, row.kind])).toEqual([
      ['big', 'reference'],
      ['blob', 'reference'],
      ['mapped', 'inline'],
      ['small', 'inline'],
    ])
    expect(rows[2]).toMatchObject({ mapIndex: 2, key: 'numbers' })
    const filtered = JSON.parse((await xcom(['ls', '--json', '--task', 'big'], env)).stdout)
    expect(filtered).toHaveLength(1)
  })

  it('get returns the values: pretty, --raw, and --out streamed to a file', async () => {
    const pretty = await xcom(['get', 'etl', 'r1', 'big'], env)
    expect(pretty.code).toBe(0)
    expect(JSON.parse(pretty.stdout)).toEqual(big)
    expect(JSON.parse((await xcom(['get', 'etl', 'r1', 'small', '--raw'], env)).stdout)).toEqual({ a: 1 })
    const mapped = await xcom(
      ['get', 'etl', 'r1', 'mapped', '--key', 'numbers', '--map-index', '2', '--raw'],
      env,
    )
    expect(JSON.parse(mapped.stdout)).toEqual([1, 2, 3])
    const raw = await xcom(['get', 'etl', 'r1', 'blob', '--raw'], env)
    expect(Buffer.compare(raw.bytes, bytes)).toBe(0)
    const out = join(dir, 'out.bin')
    const written = await xcom(['get', 'etl', 'r1', 'blob', '--out', out], env)
    expect(written.code).toBe(0)
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
  })

  it('verify reports every XCom ok and exits 0', async () => {
    const run = await xcom(['verify'], env)
    expect(run.code).toBe(EXIT.ok)
    expect(run.stdout.trim().split('\n')).toHaveLength(4)
    expect(
      run.stdout
        .trim()
        .split('\n')
        .every((line) => line.startsWith('ok')),
    ).toBe(true)
    expect(run.stderr).toContain('4 ok, 0 missing, 0 corrupt')
  })

  it('stats counts inline and offloaded values by DAG', async () => {
    const stats = JSON.parse((await xcom(['stats', '--json'], env)).stdout)
    expect(stats.total).toMatchObject({ inline: 2, offloaded: 2 })
    expect(stats.dags).toHaveLength(1)
    expect(stats.total.offloadedBytes).toBeGreaterThan(200_000)
  })

  it('a corrupted object: verify says E_CORRUPT and exits 1; get exits 5 with the E_CORRUPT line', async () => {
    const file = await objectOf('big')
    const text = await readFile(file, 'utf8')
    await writeFile(file, text.replace('row 1', 'row 7'))
    const verify = await xcom(['verify', '--json'], env)
    expect(verify.code).toBe(EXIT.problems)
    const results = JSON.parse(verify.stdout) as { xcom: string; status: string; code?: string }[]
    expect(results.find((result) => result.xcom === 'etl/r1/big/return_value')).toMatchObject({
      status: 'corrupt',
      code: 'E_CORRUPT',
    })
    expect(results.filter((result) => result.status === 'ok')).toHaveLength(3)
    const get = await xcom(['get', 'etl', 'r1', 'big'], env)
    expect(get.code).toBe(EXIT.corrupt)
    expect(get.stderr.trim().split('\n')).toHaveLength(1)
    expect(get.stderr).toMatch(/^xcom: E_CORRUPT: .*etl\/r1\/big/)
    expect(get.stdout).toBe('')
  })

  it('a deleted object: verify says E_NOT_FOUND and exits 1; get exits 4; --out leaves no file', async () => {
    await unlink(await objectOf('blob'))
    const verify = await xcom(['verify', '--problems'], env)
    expect(verify.code).toBe(EXIT.problems)
    expect(verify.stdout).toMatch(/^missing\s+etl\/r1\/blob\/return_value\s+E_NOT_FOUND/m)
    expect(verify.stdout).toMatch(/^corrupt\s+etl\/r1\/big\/return_value\s+E_CORRUPT/m)
    expect(verify.stdout).not.toMatch(/^ok/m)
    const get = await xcom(['get', 'etl', 'r1', 'blob'], env)
    expect(get.code).toBe(EXIT.notFound)
    expect(get.stderr).toMatch(/^xcom: E_NOT_FOUND: /)
    const out = join(dir, 'lost.bin')
    expect((await xcom(['get', 'etl', 'r1', 'blob', '--out', out], env)).code).toBe(EXIT.notFound)
    expect(existsSync(out)).toBe(false)
    expect(existsSync(`${out}.xcom-partial`)).toBe(false)
  })

  it('clear asks for --yes without a terminal, --dry-run deletes nothing, --yes removes rows and objects', async () => {
    const refused = await xcom(['clear', 'etl'], env)
    expect(refused.code).toBe(EXIT.usage)
    expect(refused.stderr).toContain('--yes')
    const dry = await xcom(['clear', 'etl', '--run', 'r1', '--dry-run'], env)
    expect(dry.stdout).toContain('would delete 4 XComs')
    expect(await objectFiles()).toHaveLength(1)
    const cleared = await xcom(['clear', 'etl', '--task', 'big', '--yes', '--json'], env)
    expect(cleared.code).toBe(0)
    expect(JSON.parse(cleared.stdout)).toMatchObject({ deleted: 1, purged: 1 })
    expect(await objectFiles()).toHaveLength(0)
    expect((await xcom(['clear', 'etl', '--yes'], env)).stdout).toContain('deleted 3 XComs')
    expect(JSON.parse((await xcom(['ls', '--json'], env)).stdout)).toEqual([])
    expect((await xcom(['verify'], env)).code).toBe(EXIT.ok)
  })

  it('gc --dry-run counts the orphan gc then deletes', async () => {
    expect((await xcom(['push', 'etl', 'r2', 'orphan', '--json', JSON.stringify(big)], env)).code).toBe(0)
    const [file] = (await objectFiles()).filter((path) => path.includes('/etl/r2/orphan/'))
    // A row gone without its purge (as after a crash): the object is referenced by nothing.
    const copy = (file as string).replace(/[0-9a-f-]{36}\.json$/, `${randomUUID()}.json`)
    const sidecar = (path: string) =>
      path.replace(join(dir, 'objects'), join(dir, 'objects', '.xcom', 'meta'))
    await copyFile(file as string, copy)
    await copyFile(sidecar(file as string), sidecar(copy))
    const old = new Date(Date.now() - 2 * 3_600_000)
    await utimes(copy, old, old)
    const dry = await xcom(['gc', '--dry-run'], env)
    expect(dry.stdout).toContain('would delete 1 unreferenced object(s) of 2 scanned')
    expect(JSON.parse((await xcom(['gc', '--dry-run', '--json'], env)).stdout)).toMatchObject({
      dryRun: true,
      purgesRetried: 0,
      sweep: { scanned: 2, deleted: 1 },
    })
    expect(
      JSON.parse((await xcom(['gc', '--dry-run', '--json', '--grace', '3h'], env)).stdout),
    ).toMatchObject({ sweep: { deleted: 0 } })
    expect(existsSync(copy)).toBe(true)
    const gc = await xcom(['gc', '--json'], env)
    expect(gc.code).toBe(0)
    expect(JSON.parse(gc.stdout)).toMatchObject({ dryRun: false, purgesRetried: 0, sweep: { deleted: 1 } })
    expect(existsSync(copy)).toBe(false)
    expect(existsSync(file as string)).toBe(true)
    expect((await xcom(['verify'], env)).code).toBe(EXIT.ok)
    expect((await xcom(['clear', 'etl', '--yes'], env)).code).toBe(EXIT.ok)
  })

  it('bad configuration gives the one E_CONFIG line and exit code 3', async () => {
    const run = await xcom(['ls'], { ...env, XCOM_OBJECTSTORAGE_THRESHOLD: 'lots' })
    expect(run.code).toBe(EXIT.config)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(/^xcom: E_CONFIG: .*XCOM_OBJECTSTORAGE_THRESHOLD=lots/)
    const scheme = await xcom(['ls', '--metadata-url', 'mysql://db/x'], env)
    expect(scheme.code).toBe(EXIT.config)
    expect(scheme.stderr).toMatch(/^xcom: E_CONFIG: XCOM_METADATA_URL has the unknown scheme "mysql:\/\/"/)
  })
})
