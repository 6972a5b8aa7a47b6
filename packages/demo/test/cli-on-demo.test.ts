import { access, mkdtemp, open, readFile, rm, stat, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EXIT } from '@xcom/cli'
import { SerializerRegistry } from '@xcom/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateOrders } from '../src/data.ts'
import { DAG_ID, PARTITIONS } from '../src/pipeline.ts'
import { filesUnder, runDemo, runIdOf, tableLine } from './run-demo.ts'
import { exportedSettings, runXCom } from './run-xcom.ts'

const RECORDS = 20_000

/** One element of `xcom ls --json`. */
interface Listed {
  taskId: string
  mapIndex: number
  key: string
  kind: 'inline' | 'reference'
  location: string
  size: number
  codec: string
}

/** One element of `xcom verify --json`. */
interface Verified {
  location: string
  status: 'ok' | 'missing' | 'corrupt' | 'error' | 'expired'
  code?: string
}

/** What `aggregate` must hold for the demo's orders, worked out here from the same generator. */
function expectedSummary(records: number) {
  const orders = generateOrders(records)
  const kept = orders.filter((order) => order.status !== 'refunded')
  const byStatus: Record<string, number> = {}
  for (const order of orders) byStatus[order.status] = (byStatus[order.status] ?? 0) + 1
  const times = kept.map((order) => order.createdAt.getTime())
  return {
    orders: records,
    customers: new Set(kept.map((order) => order.customerId)).size,
    revenueCents: kept.reduce((sum, order) => sum + order.amountCents, 0n),
    byStatus,
    firstOrderAt: new Date(Math.min(...times)),
    lastOrderAt: new Date(Math.max(...times)),
    partitions: PARTITIONS,
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  )

describe('the xcom command on the data of a demo run (SQLite + file://)', () => {
  let dir: string
  let runId = ''
  let demoOut = ''
  let env: Record<string, string> = {}
  let listed: Listed[] = []
  const xcom = (...args: string[]) => runXCom(args, env)
  const find = (taskId: string, mapIndex: number, key: string) => {
    const found = listed.find((x) => x.taskId === taskId && x.mapIndex === mapIndex && x.key === key)
    if (!found) throw new Error(`${taskId} ${mapIndex} ${key} not listed`)
    return found
  }
  // A file: URI leads to its file: the run id's `:` is `%3A` in the key, so `%253A` in the URI.
  const objectFile = (uri: string) => {
    const path = fileURLToPath(uri)
    expect(path.startsWith(join(dir, 'objects', sep)), `${uri} under ${dir}`).toBe(true)
    return path
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xcom-demo-cli-'))
    const result = await runDemo(['--records', String(RECORDS)], { XCOM_DEMO_DIR: dir })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    demoOut = result.stdout
    runId = runIdOf(demoOut)
    env = exportedSettings(demoOut)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('runs with the settings the demo prints: its SQLite file and objects folder', () => {
    expect(env).toEqual({
      XCOM_METADATA_URL: `sqlite://${join(dir, 'xcom.db')}`,
      XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'objects')}`,
    })
  })

  it('ls --json lists every XCom of the run, as the demo table shows them', async () => {
    const result = await xcom('ls', '--dag', DAG_ID, '--run', runId, '--json')
    expect(result.stderr).toBe('')
    expect(result.code).toBe(EXIT.ok)
    listed = JSON.parse(result.stdout) as Listed[]
    const table = demoOut
      .split('\n')
      .filter((line) => /^(extract|transform|aggregate|report)\s+-?\d+\s/.test(line))
      .map((line) => line.split(/\s+/).slice(0, 3).join('/'))
    expect(listed.map((x) => `${x.taskId}/${x.mapIndex}/${x.key}`).sort()).toEqual(table.sort())
    expect(listed).toHaveLength(12)

    for (const x of listed) {
      const line = tableLine(demoOut, x.taskId, x.mapIndex, x.key)
      if (x.kind === 'inline') {
        expect(x.location).toBe('inline')
        expect(line).toMatch(/\sinline$/)
        continue
      }
      expect(x.location.startsWith(`file://${dir}/objects/${DAG_ID}/`)).toBe(true)
      expect(line?.endsWith(`  ${x.location}`)).toBe(true)
      expect(['zstd', 'gzip']).toContain(x.codec)
      expect(line).toContain(`  ${x.codec}  `)
      expect((await stat(objectFile(x.location))).isFile()).toBe(true)
    }
    const offloaded = listed
      .filter((x) => x.kind === 'reference')
      .map((x) => `${x.taskId}/${x.mapIndex}/${x.key}`)
    expect(offloaded.sort()).toEqual([
      'extract/-1/return_value',
      'report/-1/customers_csv',
      ...[0, 1, 2, 3].map((i) => `transform/${i}/customers`),
    ])
  })

  it('get returns the values: the aggregate summary, the report text and the CSV bytes', async () => {
    const aggregate = await xcom('get', DAG_ID, runId, 'aggregate', '--raw')
    expect(aggregate.code).toBe(EXIT.ok)
    const summary = new SerializerRegistry().deserialize(aggregate.stdout.trim())
    const expected = expectedSummary(RECORDS)
    expect(summary).toEqual(expected)

    const text = await xcom('get', DAG_ID, runId, 'report', '--raw')
    expect(text.code).toBe(EXIT.ok)
    expect(`report: ${JSON.parse(text.stdout)}`).toBe(/^report: .*$/m.exec(demoOut)?.[0])

    const raw = await xcom('get', DAG_ID, runId, 'report', '--key', 'customers_csv', '--raw')
    expect(raw.code).toBe(EXIT.ok)
    const file = join(dir, 'customers.csv')
    const out = await xcom('get', DAG_ID, runId, 'report', '--key', 'customers_csv', '--out', file)
    expect(out.code).toBe(EXIT.ok)
    expect((await readFile(file)).equals(raw.bytes)).toBe(true)
    expect(raw.bytes.byteLength).toBe(find('report', -1, 'customers_csv').size)
    const [header, ...rows] = raw.stdout.trimEnd().split('\n')
    expect(header).toBe('customer_id,orders,total_eur,first_order_at,last_order_at')
    expect(rows).toHaveLength(expected.customers)
    const cents = rows.reduce((sum, row) => sum + BigInt(row.split(',')[2]!.replace('.', '')), 0n)
    expect(cents).toBe(expected.revenueCents)
  })

  it('verify reads every value back: all ok, exit 0', async () => {
    const result = await xcom('verify', '--dag', DAG_ID, '--run', runId, '--json')
    expect(result.code).toBe(EXIT.ok)
    const verified = JSON.parse(result.stdout) as Verified[]
    expect(verified).toHaveLength(listed.length)
    expect(verified.every((x) => x.status === 'ok')).toBe(true)
    expect(result.stderr).toContain('12 ok, 0 missing, 0 corrupt, 0 unreadable')
  })

  it('a corrupted object is E_CORRUPT and a deleted one E_NOT_FOUND, for verify and get', async () => {
    const corrupted = find('transform', 0, 'customers')
    const deleted = find('transform', 1, 'customers')
    const corruptFile = objectFile(corrupted.location)
    const size = (await stat(corruptFile)).size
    // Flip 64 bytes in the middle, in place: same size, so only the content check can notice.
    const handle = await open(corruptFile, 'r+')
    try {
      const bytes = Buffer.alloc(64)
      const at = Math.floor(size / 2)
      await handle.read(bytes, 0, bytes.length, at)
      await handle.write(
        bytes.map((byte) => byte ^ 0xff),
        0,
        bytes.length,
        at,
      )
    } finally {
      await handle.close()
    }
    expect((await stat(corruptFile)).size).toBe(size)
    await unlink(objectFile(deleted.location))

    const result = await xcom('verify', '--dag', DAG_ID, '--run', runId, '--json')
    expect(result.code).toBe(EXIT.problems)
    const verified = JSON.parse(result.stdout) as Verified[]
    const status = (location: string) => verified.find((x) => x.location === location)
    expect(status(corrupted.location)).toMatchObject({ status: 'corrupt', code: 'E_CORRUPT' })
    expect(status(deleted.location)).toMatchObject({ status: 'missing', code: 'E_NOT_FOUND' })
    expect(verified.filter((x) => x.status === 'ok')).toHaveLength(listed.length - 2)
    const table = await xcom('verify', '--dag', DAG_ID, '--run', runId)
    expect(table.code).toBe(EXIT.problems)
    expect(table.stdout).toMatch(/^corrupt\s+\S+transform\[0\]\/customers\s+E_CORRUPT: /m)
    expect(table.stdout).toMatch(/^missing\s+\S+transform\[1\]\/customers\s+E_NOT_FOUND: /m)

    const corrupt = await xcom('get', DAG_ID, runId, 'transform', '--map-index', '0', '--key', 'customers')
    expect(corrupt.code).toBe(EXIT.corrupt)
    expect(corrupt.stderr).toMatch(/^xcom: E_CORRUPT: /m)
    const missing = await xcom('get', DAG_ID, runId, 'transform', '--map-index', '1', '--key', 'customers')
    expect(missing.code).toBe(EXIT.notFound)
    expect(missing.stderr).toMatch(/^xcom: E_NOT_FOUND: /m)
  })

  it('clear --yes deletes the rows of the run and its object files', async () => {
    const objects = join(dir, 'objects')
    const files = listed.filter((x) => x.kind === 'reference').map((x) => objectFile(x.location))
    const runFolder = relative(objects, files[0]!).split(sep).slice(0, 2).join('/')
    expect(runFolder).toMatch(new RegExp(`^${DAG_ID}/manual__`))
    expect(
      (await filesUnder(objects)).filter((path) => path.includes(`${runFolder}/`)).length,
    ).toBeGreaterThan(0)

    const result = await xcom('clear', DAG_ID, '--run', runId, '--yes')
    expect(result.code).toBe(EXIT.ok)
    expect(result.stdout).toMatch(/^deleted 12 XComs, purged \d+ objects/m)

    const after = await xcom('ls', '--dag', DAG_ID, '--run', runId, '--json')
    expect(after.code).toBe(EXIT.ok)
    expect(JSON.parse(after.stdout)).toEqual([])
    for (const file of files) expect(await exists(file), file).toBe(false)
    // Neither the objects nor their sidecars under .xcom/meta are left for the run.
    expect((await filesUnder(objects)).filter((path) => path.includes(`${runFolder}/`))).toEqual([])
  })
})
