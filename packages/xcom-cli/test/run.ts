import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sourceNodeFlags } from '@xcom/testing'
import { expect } from 'vitest'
import type { Check } from '../src/commands/doctor.ts'
import { EXIT } from '../src/exit-codes.ts'

/** The package folder: children run here, so adapters resolve as they would beside an installed `xcom`. */
export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(PACKAGE_DIR, 'src', 'bin.ts')

/** What one run of the binary gave. */
export interface Run {
  code: number | null
  stdout: string
  stderr: string
  /** stdout as raw bytes. */
  bytes: Buffer
}

/**
 * Runs the real `xcom` binary as a user would (`node src/bin.ts`, on the sources) with only `env` and a minimal PATH:
 * no XCOM_* variable of the test process leaks in.
 */
export function xcom(args: string[], env: Record<string, string>, options: { stdin?: string | Buffer } = {}) {
  return new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceNodeFlags(), BIN, ...args], {
      cwd: PACKAGE_DIR,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      const bytes = Buffer.concat(out)
      resolve({ code, stdout: bytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), bytes })
    })
    child.stdin.end(options.stdin ?? '')
  })
}

/** Asserts a passing doctor: every check ok, exit 0. */
export async function expectHealthy(vars: Record<string, string>): Promise<Run> {
  const run = await xcom(['doctor', '--json'], vars)
  const checks = JSON.parse(run.stdout) as Check[]
  expect(checks.map((check) => [check.name.replace(/^object store \S+: /, ''), check.ok])).toEqual([
    ['metadata database', true],
    ['write', true],
    ['read', true],
    ['delete', true],
    ['owner', true],
  ])
  expect(run.code).toBe(EXIT.ok)
  return run
}
