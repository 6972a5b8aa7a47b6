import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { readLogSettings } from '../src/config.ts'
import { MemoryMetadataStore, XCom } from '../src/index.ts'
import { XComLogger } from '../src/logger.ts'
import type { ExternalBackend } from './fixtures/external-backend.ts'

/** A stream that keeps what is written to it. */
function capture() {
  const lines: string[] = []
  return { lines, stream: { write: (line: string) => lines.push(line) } }
}

describe('the default logger', () => {
  it('writes one text line per event at or above its level, fields after the message', () => {
    const { lines, stream } = capture()
    const logger = new XComLogger({ level: 'info', stream })
    logger.debug('not shown')
    logger.info('retrying', { xcom: 'etl/r1/t/return_value', attempt: 2 })
    logger.warn('purge failed')
    expect(lines).toEqual([
      'xcom info: retrying (xcom=etl/r1/t/return_value attempt=2)\n',
      'xcom warn: purge failed\n',
    ])
    expect(logger.enabled('debug')).toBe(false)
  })

  it('writes one JSON object per line with XCOM_LOG_FORMAT=json', () => {
    const { lines, stream } = capture()
    new XComLogger({ level: 'debug', format: 'json', stream }).debug('codec skipped', { codec: 'zstd' })
    const line = JSON.parse(lines[0] as string)
    expect(line).toMatchObject({ level: 'debug', logger: 'xcom', msg: 'codec skipped', codec: 'zstd' })
    expect(new Date(line.time).getTime()).not.toBeNaN()
  })

  it('masks secrets in messages and fields', () => {
    const { lines, stream } = capture()
    const logger = new XComLogger({ level: 'warn', stream })
    logger.warn('cannot reach postgres://xcom:hunter2@db/airflow', {
      uri: 'abfs://c/x?sig=s3cr3t&sv=1',
      code: 'E_BACKEND',
    })
    expect(lines[0]).not.toContain('hunter2')
    expect(lines[0]).not.toContain('s3cr3t')
    expect(lines[0]).toContain('code=E_BACKEND')
  })
})

describe('user loggers', () => {
  it('gives console-style loggers (message, fields) and pino-style ones (fields, message)', () => {
    const calls: unknown[][] = []
    const consoleLike = { debug() {}, info() {}, warn: (...args: unknown[]) => calls.push(args), error() {} }
    new XComLogger({ logger: consoleLike }).warn('purge failed', { xcom: 'a/b/c/d' })
    const pinoLike = {
      ...consoleLike,
      child: () => pinoLike,
      bindings: () => ({}),
    }
    new XComLogger({ logger: pinoLike }).warn('purge failed', { xcom: 'a/b/c/d' })
    expect(calls).toEqual([
      ['purge failed', { xcom: 'a/b/c/d' }],
      [{ logger: 'xcom', xcom: 'a/b/c/d' }, 'purge failed'],
    ])
  })

  it('accepts console itself', () => {
    const xcom = new XCom({ metadata: new MemoryMetadataStore(), logger: console, logLevel: 'silent' })
    expect(xcom).toBeInstanceOf(XCom)
  })
})

describe('levels from the environment', () => {
  it("reads XCOM_LOG_LEVEL, Airflow's logging level and XCOM_LOG_FORMAT", () => {
    expect(readLogSettings({ XCOM_LOG_LEVEL: 'DEBUG' })).toEqual({ level: 'debug' })
    expect(readLogSettings({ AIRFLOW__LOGGING__LOGGING_LEVEL: 'WARNING', XCOM_LOG_FORMAT: 'json' })).toEqual({
      level: 'warn',
      format: 'json',
    })
    expect(readLogSettings({ AIRFLOW__LOGGING__LOGGING_LEVEL: 'CRITICAL' })).toEqual({ level: 'error' })
    expect(readLogSettings({})).toEqual({})
  })

  it('refuses an unknown level or format with E_CONFIG naming the variable', async () => {
    expect(() => readLogSettings({ XCOM_LOG_LEVEL: 'loud' })).toThrow(
      /XCOM_LOG_LEVEL="loud" is not a log level/,
    )
    expect(() => readLogSettings({ XCOM_LOG_FORMAT: 'xml' })).toThrow(
      /XCOM_LOG_FORMAT="xml" is not a log format/,
    )
    await expect(
      XCom.fromEnv({ XCOM_METADATA_URL: 'memory://', XCOM_LOG_LEVEL: 'loud' }),
    ).rejects.toMatchObject({
      code: 'E_CONFIG',
    })
  })

  it('fromEnv logs a failed purge at the level the environment sets, to the logger given', async () => {
    const warnings: unknown[] = []
    const logger = { debug() {}, info() {}, warn: (message: unknown) => warnings.push(message), error() {} }
    const fixture = fileURLToPath(new URL('./fixtures/external-backend.ts', import.meta.url))
    const env = { XCOM_METADATA_URL: 'memory://', XCOM_BACKEND: `${fixture}#ExternalBackend` }
    for (const level of ['error', undefined]) {
      const xcom = await XCom.fromEnv(level ? { ...env, XCOM_LOG_LEVEL: level } : env, { logger })
      ;(xcom.backend as ExternalBackend).failPurges = true
      await xcom.push({ dagId: 'd', runId: 'r', taskId: 't' }, 1)
      await xcom.clear({ dagId: 'd' })
    }
    expect(warnings).toHaveLength(1) // at `error` the warning is dropped; the default level is `warn`
  })
})
