import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '@xcom/encryption'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT } from '../src/exit-codes.ts'
import { type Run, xcom } from './run.ts'

const keyA = generateKey('key-a')
const keyB = generateKey('key-b')
const MATERIAL = [keyA, keyB].map((entry) => entry.slice(entry.indexOf(':') + 1))

let dir: string
let base: Record<string, string>
/** Every output of the binary in this file: none may show key material. */
const outputs: Run[] = []

async function run(args: string[], env: Record<string, string>): Promise<Run> {
  const result = await xcom(args, env)
  outputs.push(result)
  return result
}

/** The variables of a store whose values are encrypted (inline ones too) with `keys`. */
function withKeys(keys: string): Record<string, string> {
  return { ...base, XCOM_ENCRYPTION_KEYS: keys, XCOM_ENCRYPTION_INLINE: 'true' }
}

async function objectFiles(): Promise<string[]> {
  const root = join(dir, 'objects')
  if (!existsSync(root)) return []
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile() && /\.(json|bin)(\.\w+)*$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !path.includes(join(root, '.xcom')) && !path.includes('xcom-database'))
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-cli-rotate-'))
  base = {
    XCOM_METADATA_URL: `sqlite://${join(dir, 'xcom.db')}`,
    XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'objects')}`,
    XCOM_OBJECTSTORAGE_THRESHOLD: '64',
  }
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('xcom rotate-keys on sqlite + file://', () => {
  const big = { rows: Array.from({ length: 40 }, (_, index) => ({ index, name: `row ${index}` })) }
  const bytes = randomBytes(50_000)
  let oldKey: Record<string, string>
  let rotating: Record<string, string>
  let newKey: Record<string, string>
  beforeAll(() => {
    oldKey = withKeys(keyA)
    rotating = withKeys(`${keyB},${keyA}`)
    newKey = withKeys(keyB)
  })

  it('values pushed under key A, inline and offloaded, are not readable without keys (E_CONFIG, exit 3)', async () => {
    expect((await run(['push', 'etl', 'r1', 'small', '--json', '{"a": 1}'], oldKey)).code).toBe(EXIT.ok)
    expect((await run(['push', 'etl', 'r1', 'big', '--json', JSON.stringify(big)], oldKey)).code).toBe(
      EXIT.ok,
    )
    const file = join(dir, 'in.bin')
    await writeFile(file, bytes)
    expect((await run(['push', 'etl', 'r1', 'blob', '--file', file], oldKey)).code).toBe(EXIT.ok)
    expect((await run(['push', 'other', 'r1', 't', '--json', '[1, 2, 3]'], oldKey)).code).toBe(EXIT.ok)
    expect(await objectFiles()).toHaveLength(2)
    for (const task of ['small', 'big']) {
      const plain = await run(['get', 'etl', 'r1', task, '--raw'], base)
      expect(plain.code, task).toBe(EXIT.config)
      expect(plain.stderr, task).toMatch(/^xcom: E_CONFIG: .*XCOM_ENCRYPTION_KEYS/)
    }
  })

  it('--dry-run counts what would be re-encrypted and changes nothing', async () => {
    const files = await objectFiles()
    const dry = await run(['rotate-keys', '--dry-run'], rotating)
    expect(dry.code).toBe(EXIT.ok)
    expect(dry.stdout).toBe('would re-encrypt 4 of 4 XComs (0 already under key key-b)\n')
    expect(await objectFiles()).toEqual(files)
    expect(JSON.parse((await run(['get', 'etl', 'r1', 'big', '--raw'], oldKey)).stdout)).toEqual(big)
    const json = JSON.parse((await run(['rotate-keys', '--dry-run', '--json'], rotating)).stdout)
    expect(json).toEqual({
      dryRun: true,
      activeKeyId: 'key-b',
      malformed: 0,
      scanned: 4,
      rotated: 4,
      current: 0,
      changed: 0,
      failedPurges: 0,
      failed: [],
    })
  })

  it('filters select part of the XComs: one task, one DAG', async () => {
    const one = await run(['rotate-keys', '--dag', 'etl', '--task', 'big'], rotating)
    expect(one.code).toBe(EXIT.ok)
    expect(one.stderr).not.toContain('can be removed')
    expect(one.stdout).toBe(
      're-encrypted 1 XCom under key key-b; 0 already current; 0 changed meanwhile (left as pushed); 0 failed\n',
    )
    const dry = await run(['rotate-keys', '--dry-run', '--dag', 'etl'], rotating)
    expect(dry.stdout).toBe('would re-encrypt 2 of 3 XComs (1 already under key key-b)\n')
    // Only that one is readable with the new key alone.
    expect(JSON.parse((await run(['get', 'etl', 'r1', 'big', '--raw'], newKey)).stdout)).toEqual(big)
    expect((await run(['get', 'etl', 'r1', 'small', '--raw'], newKey)).code).not.toBe(EXIT.ok)
  })

  it('rotates the rest, purges the old objects, and the values read back with key B only', async () => {
    const rotated = await run(['rotate-keys'], rotating)
    expect(rotated.code).toBe(EXIT.ok)
    expect(rotated.stdout).toBe(
      're-encrypted 3 XComs under key key-b; 1 already current; 0 changed meanwhile (left as pushed); 0 failed\n',
    )
    expect(rotated.stderr).toContain('the older keys can be removed from XCOM_ENCRYPTION_KEYS')
    // Piped: no progress bar, no colours.
    expect(rotated.stderr).not.toMatch(/\u001b\[/)
    expect(await objectFiles()).toHaveLength(2)
    expect(JSON.parse((await run(['get', 'etl', 'r1', 'small', '--raw'], newKey)).stdout)).toEqual({ a: 1 })
    expect(JSON.parse((await run(['get', 'etl', 'r1', 'big', '--raw'], newKey)).stdout)).toEqual(big)
    expect((await run(['get', 'etl', 'r1', 'blob', '--raw'], newKey)).bytes.equals(bytes)).toBe(true)
    expect(JSON.parse((await run(['get', 'other', 'r1', 't', '--raw'], newKey)).stdout)).toEqual([1, 2, 3])
    const stale = await run(['get', 'etl', 'r1', 'big', '--raw'], oldKey)
    expect(stale.code).toBe(EXIT.config)
  })

  it('a second run has nothing to do; --json prints the report', async () => {
    const again = await run(['rotate-keys'], rotating)
    expect(again.code).toBe(EXIT.ok)
    expect(again.stdout).toContain('re-encrypted 0 XComs under key key-b; 4 already current;')
    const json = await run(['rotate-keys', '--json'], newKey)
    expect(json.code).toBe(EXIT.ok)
    expect(JSON.parse(json.stdout)).toEqual({
      dryRun: false,
      activeKeyId: 'key-b',
      malformed: 0,
      scanned: 4,
      rotated: 0,
      current: 4,
      changed: 0,
      failedPurges: 0,
      failed: [],
    })
  })

  it('an XCom that cannot be re-encrypted is listed with its code, and the exit code is 1', async () => {
    expect((await run(['push', 'broken', 'r1', 't', '--json', JSON.stringify(big)], oldKey)).code).toBe(0)
    const object = (await objectFiles()).find((path) => path.includes('/broken/'))
    expect(object).toBeDefined()
    await unlink(object as string)
    const result = await run(['rotate-keys', '--dag', 'broken'], rotating)
    expect(result.code).toBe(EXIT.problems)
    const lines = result.stdout.trim().split('\n')
    expect(lines[0]).toBe(
      're-encrypted 0 XComs under key key-b; 0 already current; 0 changed meanwhile (left as pushed); 1 failed',
    )
    expect(lines[1]).toMatch(/^broken\/r1\/t\S*: E_NOT_FOUND /)
    const json = JSON.parse((await run(['rotate-keys', '--dag', 'broken', '--json'], rotating)).stdout)
    expect(json.failed).toEqual([
      { xcom: expect.stringMatching(/^broken\/r1\/t/), code: 'E_NOT_FOUND', message: expect.any(String) },
    ])
  })

  it('without encryption configured: E_CONFIG naming XCOM_ENCRYPTION_KEYS, exit 3', async () => {
    for (const env of [base, { XCOM_METADATA_URL: base.XCOM_METADATA_URL as string }]) {
      const result = await run(['rotate-keys'], env)
      expect(result.code).toBe(EXIT.config)
      expect(result.stderr).toMatch(/^xcom: E_CONFIG: Key rotation needs .*XCOM_ENCRYPTION_KEYS/)
      expect(result.stdout).toBe('')
    }
  })

  it('config shows the key ids, never the keys', async () => {
    const table = await run(['config'], rotating)
    expect(table.code).toBe(EXIT.ok)
    expect(table.stdout).toContain('key-b (active), key-a')
    const rows = JSON.parse((await run(['config', '--json'], rotating)).stdout) as {
      setting: string
      value: string
      source: string
    }[]
    expect(rows.find((row) => row.setting === 'encryptionKeys')).toEqual({
      setting: 'encryptionKeys',
      value: 'key-b (active), key-a (keys not shown)',
      source: 'XCOM_ENCRYPTION_KEYS',
    })
  })

  it('no output of any command shows key material', () => {
    expect(outputs.length).toBeGreaterThan(20)
    for (const output of outputs)
      for (const material of MATERIAL) {
        expect(output.stdout).not.toContain(material)
        expect(output.stderr).not.toContain(material)
      }
  })
})
