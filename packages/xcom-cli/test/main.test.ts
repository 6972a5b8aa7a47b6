import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { XCom, XComError } from '@xcom/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT, exitCodeOf } from '../src/exit-codes.ts'
import { main } from '../src/index.ts'

/** Runs `xcom` in process with collected output; `tty` makes stdout and stderr claim to be terminals. */
async function run(
  args: string[],
  env: Record<string, string>,
  options: { tty?: boolean; stdin?: string } = {},
) {
  let stdout = ''
  let stderr = ''
  const text = (chunk: string | Uint8Array) =>
    typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
  const input = options.stdin ?? ''
  const code = await main(['node', 'xcom', ...args], {
    stdout: { write: (chunk) => (stdout += text(chunk)), isTTY: options.tty ?? false },
    stderr: { write: (chunk) => (stderr += text(chunk)), isTTY: false },
    stdin: Object.assign(
      (async function* () {
        if (input) yield input
      })(),
      { isTTY: options.stdin === undefined },
    ),
    env,
  })
  return { code, stdout, stderr }
}

const ANSI = /\u001b\[/

let dir: string
let env: Record<string, string>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-cli-main-'))
  env = { XCOM_METADATA_URL: `sqlite://${join(dir, 'xcom.db')}` }
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('main(argv, io)', () => {
  it('every command has --help with examples, and exits 0', async () => {
    for (const command of [
      'ls',
      'get',
      'push',
      'clear',
      'gc',
      'rotate-keys',
      'verify',
      'stats',
      'config',
      'doctor',
    ]) {
      const help = await run([command, '--help'], env)
      expect(help.code, command).toBe(EXIT.ok)
      expect(help.stdout, command).toContain('Examples:\n  $ xcom ')
      expect(help.stdout, command).toContain('--metadata-url <url>')
    }
    const top = await run(['--help'], env)
    expect(top.stdout).toContain('Exit codes: 0 ok')
    const version = await run(['--version'], env)
    expect(version.code).toBe(EXIT.ok)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('usage errors are one line and exit 2', async () => {
    for (const args of [
      ['ls', '--bogus'],
      ['get', 'etl'],
      ['ls', '--map-index', 'x'],
      ['nope'],
      ['push', 'etl', 'r1', 't'],
      ['push', 'etl', 'r1', 't', '--json', '{oops'],
      ['get', 'etl', 'r1', 'bad\u0001task'],
    ]) {
      const result = await run(args, env)
      expect(result.code, args.join(' ')).toBe(EXIT.usage)
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(result.stderr, args.join(' ')).toMatch(/^xcom: /)
    }
  })

  it('ls pages through 2,500 rows: all listed, in order, the header once', async () => {
    const xcom = await XCom.fromEnv(env)
    try {
      for (let index = 0; index < 2500; index++)
        await xcom.push({ dagId: 'many', runId: 'r1', taskId: `t${String(index).padStart(4, '0')}` }, index)
    } finally {
      await xcom.close()
    }
    const json = await run(['ls', '--dag', 'many', '--json'], env)
    const rows = JSON.parse(json.stdout) as { taskId: string }[]
    expect(rows).toHaveLength(2500)
    expect(rows[2499]?.taskId).toBe('t2499')
    const table = await run(['ls', '--dag', 'many', '--page-size', '700'], env)
    const lines = table.stdout.trim().split('\n')
    expect(lines).toHaveLength(2501)
    expect(lines.filter((line) => line.startsWith('dag '))).toHaveLength(1)
    expect(table.stderr).toContain('2500 XComs')
    const stats = JSON.parse((await run(['stats', '--dag', 'many', '--json'], env)).stdout)
    expect(stats.total).toMatchObject({ inline: 2500, offloaded: 0 })
    expect((await run(['clear', 'many', '--yes'], env)).stdout).toContain(
      'deleted 2500 XComs, purged 0 objects',
    )
  })

  it('config shows where each setting came from, flags included, with secrets masked', async () => {
    const secretEnv = {
      XCOM_METADATA_URL: 'postgres://xcom:hunter2@db.example:5432/airflow',
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD: '1024',
      AIRFLOW_CONN_AWS: 'aws://AKIA:wJalrXUtnFEMI@/?region_name=eu-west-1',
    }
    const result = await run(['--path', 's3://aws@bucket/xcom', 'config', '--json'], secretEnv)
    expect(result.code).toBe(EXIT.ok)
    expect(result.stdout).not.toContain('hunter2')
    expect(result.stdout).not.toContain('wJalrXUtnFEMI')
    const rows = Object.fromEntries(
      (JSON.parse(result.stdout) as { setting: string; value: string; source: string }[]).map((row) => [
        row.setting,
        row,
      ]),
    )
    expect(rows.objectStoragePath).toMatchObject({ value: 's3://aws@bucket/xcom', source: '--path' })
    expect(rows.objectStorageThreshold).toMatchObject({
      value: '1024',
      source: 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD',
    })
    expect(rows.metadataUrl?.source).toBe('XCOM_METADATA_URL')
    expect(rows.metadataUrl?.value).toContain('***')
    expect(rows.objectStorageChecksum?.source).toBe('default')
    expect(rows.connections?.value).toBe('AIRFLOW_CONN_AWS=***')
  })

  it('colours only on a terminal, and never with NO_COLOR', async () => {
    expect((await run(['config'], env)).stdout).not.toMatch(ANSI)
    expect((await run(['config'], env, { tty: true })).stdout).toMatch(ANSI)
    expect((await run(['config'], { ...env, NO_COLOR: '1' }, { tty: true })).stdout).not.toMatch(ANSI)
  })

  it('--verbose writes debug lines to stderr only; XCOM_LOG_FORMAT=json makes them JSON; quiet by default', async () => {
    expect((await run(['push', 'logs', 'r1', 't', '--json', '[1, 2]'], env)).stderr).not.toContain('debug')
    const verbose = await run(['--verbose', 'get', 'logs', 'r1', 't', '--raw'], env)
    expect(JSON.parse(verbose.stdout)).toEqual([1, 2])
    expect(verbose.stderr).toMatch(
      /^xcom debug: pull done in [\d.]+ ms \(xcom\.dag_id=logs .*xcom\.location=inline/m,
    )
    const json = await run(['get', 'logs', 'r1', 't', '--raw'], {
      ...env,
      XCOM_LOG_LEVEL: 'debug',
      XCOM_LOG_FORMAT: 'json',
    })
    expect(JSON.parse(json.stdout)).toEqual([1, 2])
    expect(JSON.parse(json.stderr.trim().split('\n')[0] as string)).toMatchObject({
      level: 'debug',
      logger: 'xcom',
      msg: expect.stringMatching(/^pull done in/),
      'xcom.task_id': 't',
    })
    const config = await run(['--verbose', 'config', '--json'], env)
    expect(JSON.parse(config.stdout)).toContainEqual({
      setting: 'logLevel',
      value: 'debug',
      source: '--verbose',
    })
    const bad = await run(['ls'], { ...env, XCOM_LOG_LEVEL: 'chatty' })
    expect(bad.code).toBe(EXIT.config)
    expect(bad.stderr).toMatch(/^xcom: E_CONFIG: XCOM_LOG_LEVEL="chatty" is not a log level/)
  })

  it('push from stdin, get back, and E_NOT_FOUND exits 4', async () => {
    expect((await run(['push', 'etl', 'r1', 't'], env, { stdin: '{"when": "now"}' })).code).toBe(EXIT.ok)
    expect(JSON.parse((await run(['get', 'etl', 'r1', 't', '--raw'], env)).stdout)).toEqual({ when: 'now' })
    const missing = await run(['get', 'etl', 'r1', 'other'], env)
    expect(missing.code).toBe(EXIT.notFound)
    expect(missing.stderr).toMatch(/^xcom: E_NOT_FOUND: No XCom etl\/r1\/other\/return_value in sqlite:\/\//)
    expect(missing.stderr).toContain('`xcom ls --dag etl --run r1`')
    expect(missing.stderr).not.toContain('{ default }')
    const out = await run(['get', 'etl', 'r1', 'other', '--out', 'unused.bin'], env)
    expect(out.code).toBe(EXIT.notFound)
    expect(out.stderr).toContain('`xcom ls --dag etl --run r1`')
  })

  it('verify reports expired values without reading them, and exits 0', async () => {
    expect((await run(['push', 'exp', 'r1', 't', '--json', '1', '--expires', '1ms'], env)).code).toBe(EXIT.ok)
    await new Promise((done) => setTimeout(done, 20))
    const verify = await run(['verify', '--dag', 'exp'], env)
    expect(verify.code).toBe(EXIT.ok)
    expect(verify.stdout).toMatch(/^expired\s+exp\/r1\/t\/return_value/m)
    expect(verify.stderr).toContain('1 expired (not read)')
  })

  it('push --file and --bytes work with the inline backend too (read whole), and get gives the bytes back', async () => {
    const file = join(dir, 'small.bin')
    await writeFile(file, Buffer.from([0, 1, 2, 255]))
    expect((await run(['push', 'bin', 'r1', 'f', '--file', file], env)).code).toBe(EXIT.ok)
    expect((await run(['push', 'bin', 'r1', 's', '--bytes'], env, { stdin: 'abc' })).code).toBe(EXIT.ok)
    const listed = JSON.parse((await run(['ls', '--dag', 'bin', '--json'], env)).stdout) as { kind: string }[]
    expect(listed.map((row) => row.kind)).toEqual(['inline', 'inline'])
    const out = join(dir, 'small.out')
    expect((await run(['get', 'bin', 'r1', 'f', '--out', out], env)).code).toBe(EXIT.ok)
    expect([...(await readFile(out))]).toEqual([0, 1, 2, 255])
    expect((await run(['get', 'bin', 'r1', 's', '--raw'], env)).stdout).toBe('abc')
    expect((await run(['verify', '--dag', 'bin', '--concurrency', '2'], env)).code).toBe(EXIT.ok)
  })

  it('maps error codes to the documented exit codes', () => {
    expect(exitCodeOf(new XComError('E_CONFIG', 'x'))).toBe(3)
    expect(exitCodeOf(new XComError('E_NOT_FOUND', 'x'))).toBe(4)
    expect(exitCodeOf(new XComError('E_CORRUPT', 'x'))).toBe(5)
    expect(exitCodeOf(new XComError('E_PERMISSION_DENIED', 'x'))).toBe(6)
    expect(exitCodeOf(new XComError('E_BACKEND', 'x'))).toBe(10)
    expect(exitCodeOf(new Error('bug'))).toBe(70)
  })
})
