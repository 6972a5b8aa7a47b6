// The README's two commands as a new user runs them: a clean clone of HEAD, no pnpm on PATH (only the system's bin
// folders), an empty HOME. scripts/dev.sh must provide Node >= 22 and pnpm itself, install, and run the demo and the
// tests. The test command is narrowed to one package (pnpm's --filter), so this file does not run the whole suite again.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim()
const work = mkdtempSync(join(tmpdir(), 'xcom-readme-'))
const clone = join(work, 'clone')
const home = join(work, 'home')

/** The environment of the machine (its CA certificates, proxies) with a PATH holding no pnpm and an empty HOME. */
function freshEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home }
  for (const name of Object.keys(env)) {
    // What the running pnpm, npm and turbo told their children: a new user's shell has none of it.
    if (/^(npm_|PNPM_|pnpm_|TURBO_|XCOM_TOOLCHAIN|XDG_CACHE_HOME|NODE_OPTIONS|VITEST|XCOM_PNPM)/i.test(name))
      delete env[name]
  }
  return env
}

/** Runs `bash scripts/dev.sh <args>` in the clone; its output is kept for the failure message. */
function dev(...args: string[]) {
  return spawnSync('bash', ['scripts/dev.sh', ...args], {
    cwd: clone,
    env: freshEnv(),
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  })
}

beforeAll(() => {
  mkdirSync(home)
  execFileSync('git', ['clone', '--quiet', root, clone])
  const pnpmOnPath = spawnSync('bash', ['-c', 'command -v pnpm'], { env: freshEnv() })
  // Where the system's own bin folders hold a pnpm, the "no pnpm" half of this test cannot be shown here.
  expect(pnpmOnPath.status, 'a pnpm in /usr/local/bin, /usr/bin or /bin').not.toBe(0)
}, 120_000)
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe("the README's two commands from a clean clone, with no pnpm on PATH and an empty HOME", () => {
  it('bash scripts/dev.sh demo provisions the toolchain, installs and runs the demo', () => {
    const run = dev('demo')
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0)
    expect(run.stdout).toContain('Done in') // pnpm install ran
  }, 600_000)

  it('bash scripts/dev.sh test runs the tests (here one package, through pnpm --filter)', () => {
    const run = dev('test', '--filter=@xcom/core')
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0)
    // Vitest's summary line, without the colours it prints when the environment asks for them.
    const plain = run.stdout.replace(/\u001b\[[0-9;]*m/g, '')
    expect(plain).toMatch(/Tests\s+\d+ passed/)
    expect(plain).not.toMatch(/Tests\s+.*\d+ failed/)
  }, 600_000)
})
