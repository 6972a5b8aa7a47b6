import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '@xcom/encryption'
import { sourceNodeFlags } from '@xcom/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_DIR, xcom } from './run.ts'

/** util-linux `script` gives the child a pseudo-terminal, as an operator's shell would. */
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((path) => existsSync(path))

/**
 * Runs `xcom args` on a pseudo-terminal and returns everything it drew there. Once the screen shows `answer.when`,
 * the keys `answer.keys` are typed, one every 200 ms (a prompt reads keys, not lines).
 */
function onTerminal(
  args: string[],
  env: Record<string, string>,
  answer?: { when: string; keys: string[] },
): Promise<string> {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, ...sourceNodeFlags(), join(PACKAGE_DIR, 'src', 'bin.ts'), ...args]
    .map(quote)
    .join(' ')
  return new Promise((resolve, reject) => {
    // A new pseudo-terminal has no size; prompts wrap at its width, so give it an ordinary one.
    const child = spawn(SCRIPT as string, ['-qec', `stty cols 120 rows 40; ${command}`, '/dev/null'], {
      cwd: PACKAGE_DIR,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'xterm', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let text = ''
    let typed = false
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      if (!answer || typed || !plain(text).includes(answer.when)) return
      typed = true
      answer.keys.forEach((key, index) => {
        setTimeout(() => child.stdin.write(key), 200 * (index + 1))
      })
      setTimeout(() => child.stdin.end(), 200 * (answer.keys.length + 2))
    })
    // A prompt that never shows must fail the test, not hang it.
    const guard = setTimeout(() => child.kill(), 30_000)
    child.on('error', reject)
    child.on('close', () => {
      clearTimeout(guard)
      resolve(text)
    })
  })
}

/** The text on screen without line breaks and escape sequences: a prompt may be drawn a few characters at a time. */
function plain(screen: string): string {
  return screen.replace(/\r?\n/g, '').replace(/\u001b(\[[0-9;?]*[A-Za-z]|[78])/g, '')
}

let dir: string
let env: Record<string, string>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-cli-tty-'))
  env = {
    XCOM_METADATA_URL: `sqlite://${join(dir, 'xcom.db')}`,
    XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'objects')}`,
    XCOM_OBJECTSTORAGE_THRESHOLD: '0',
  }
  for (const task of ['a', 'b']) await xcom(['push', 'etl', 'r1', task, '--json', '[1, 2, 3]'], env)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe.skipIf(!SCRIPT)('on a terminal', () => {
  it('verify draws a progress bar and colours', async () => {
    const screen = await onTerminal(['verify'], env)
    expect(screen).toContain('verify ')
    expect(screen).toContain('100% | 2/2')
    expect(screen).toMatch(/\u001b\[32mok/)
    expect(screen).toContain('2 ok, 0 missing')
  })

  it('NO_COLOR turns colours off and keeps a plain bar', async () => {
    const screen = await onTerminal(['verify'], { ...env, NO_COLOR: '1' })
    expect(screen).toContain('100% | 2/2')
    expect(screen).not.toMatch(/\u001b\[3\dm/)
    expect(screen).toContain('########')
  })

  it('gc shows a spinner on the terminal and its report on stdout', async () => {
    const screen = plain(await onTerminal(['gc', '--dry-run', '--grace', '0'], env))
    expect(screen).toMatch(/counting: done, \d+ objects scanned/)
    expect(screen).toMatch(/would delete 0 unreferenced object\(s\) of \d+ scanned/)
  })

  it('rotate-keys counts first, then draws a bar with that total', async () => {
    const [keyA, keyB] = [generateKey('key-a'), generateKey('key-b')]
    for (const task of ['a', 'b', 'c'])
      await xcom(['push', 'sealed', 'r1', task, '--json', '[1]'], { ...env, XCOM_ENCRYPTION_KEYS: keyA })
    const screen = await onTerminal(['rotate-keys', '--dag', 'sealed'], {
      ...env,
      XCOM_ENCRYPTION_KEYS: `${keyB},${keyA}`,
    })
    expect(screen).toContain('rotate-keys ')
    expect(screen).toContain('100% | 3/3')
    expect(plain(screen)).toContain('re-encrypted 3 XComs under key key-b; 0 already current;')
    // The other tests count the XComs of DAG etl alone.
    expect((await xcom(['clear', 'sealed', '--yes'], { ...env, XCOM_ENCRYPTION_KEYS: keyB })).code).toBe(0)
  })

  it('clear asks on the terminal: no keeps the XComs, yes deletes them', async () => {
    const keep = await onTerminal(['clear', 'etl', '--task', 'a'], env, {
      when: 'Delete 1 XCom',
      keys: ['n', '\r'],
    })
    expect(plain(keep)).toContain('Delete 1 XCom (1 object) of DAG etl?')
    expect(plain(keep)).toContain('cancelled: nothing deleted')
    expect(JSON.parse((await xcom(['ls', '--json'], env)).stdout)).toHaveLength(2)
    const yes = await onTerminal(['clear', 'etl', '--task', 'a'], env, {
      when: 'Delete 1 XCom',
      keys: ['y', '\r'],
    })
    expect(plain(yes)).toContain('deleted 1 XCom, purged 1 object')
    expect(JSON.parse((await xcom(['ls', '--json'], env)).stdout)).toHaveLength(1)
  })
})
