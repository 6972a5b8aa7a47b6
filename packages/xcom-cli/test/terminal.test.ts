import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sourceNodeFlags } from '@xcom/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_DIR, xcom } from './run.ts'

/** util-linux `script` gives the child a pseudo-terminal, as an operator's shell would. */
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((path) => existsSync(path))

/** Runs `xcom args` on a pseudo-terminal and returns everything it drew there. */
function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, ...sourceNodeFlags(), join(PACKAGE_DIR, 'src', 'bin.ts'), ...args]
    .map(quote)
    .join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT as string, ['-qec', command, '/dev/null'], {
      cwd: PACKAGE_DIR,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'xterm', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
    })
    child.on('error', reject)
    child.on('close', () => resolve(text))
  })
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
})
