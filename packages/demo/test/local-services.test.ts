import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_DIR, runDemo, tableLine } from './run-demo.ts'

/** The `export NAME='value'` blocks the services script prints, by the first word of their `# title`. */
function parseBlocks(output: string): Map<string, Record<string, string>> {
  const blocks = new Map<string, Record<string, string>>()
  for (const block of output.split(/\n\s*\n/)) {
    const title = /^# (\S+)/m.exec(block)?.[1]
    if (!title) continue
    const env: Record<string, string> = {}
    for (const [, name, value] of block.matchAll(/^export (\w+)='((?:[^']|'\\'')*)'$/gm))
      env[name!] = value!.replaceAll("'\\''", "'")
    blocks.set(title, env)
  }
  return blocks
}

describe('pnpm services: the demo against the local S3, GCS and Azure services, by the variables it prints', () => {
  let child: ChildProcess | undefined
  let blocks = new Map<string, Record<string, string>>()
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'xcom-demo-services-'))
    const started = spawn(
      process.execPath,
      [
        '--conditions=@xcom/source',
        'src/services.ts',
        '--s3-port',
        '0',
        '--gcs-port',
        '0',
        '--azure-port',
        '0',
      ],
      { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = started
    let output = ''
    let errors = ''
    started.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString()
    })
    await new Promise<void>((resolve, reject) => {
      started.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('# PostgreSQL')) resolve()
      })
      started.on('exit', (code) =>
        reject(new Error(`the services script exited (${code}): ${errors}${output}`)),
      )
    })
    await new Promise((resolve) => setTimeout(resolve, 50)) // the rest of the same write
    blocks = parseBlocks(output)
  })
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGINT')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('prints one block per service, each with its own demo directory', () => {
    expect([...blocks.keys()]).toEqual(['S3', 'GCS', 'Azure', 'PostgreSQL'])
    expect(blocks.get('Azure')).toHaveProperty(
      'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH',
      'abfs://demo_azure@xcom-demo/xcom',
    )
    expect(new Set([...blocks.values()].map((env) => env.XCOM_DEMO_DIR)).size).toBe(4)
  })

  for (const [title, scheme] of [
    ['S3', 's3://demo_s3@xcom-demo/xcom/'],
    ['GCS', 'gs://demo_gcs@xcom-demo/xcom/'],
    ['Azure', 'abfs://demo_azure@xcom-demo/xcom/'],
  ] as const) {
    it(`runs against ${title}`, async () => {
      const env = { ...blocks.get(title), XCOM_DEMO_DIR: join(dir, title) }
      const result = await runDemo(['--records', '5000'], env)
      // @xcom/gcs downloads currently make Node warn about listeners on a PassThrough (reported); nothing else may.
      const stderr = result.stderr
        .split('\n')
        .filter((line) => !(title === 'GCS' && /MaxListenersExceededWarning|--trace-warnings/.test(line)))
        .join('\n')
      expect(stderr.trim()).toBe('')
      expect(result.code).toBe(0)
      expect(tableLine(result.stdout, 'extract', -1, 'return_value')).toContain(scheme)
      expect(tableLine(result.stdout, 'report', -1, 'customers_csv')).toContain(scheme)
      expect(result.stdout).toMatch(/^12 XComs, 6 offloaded/m)
    })
  }
})
