import { describe, expect, it } from 'vitest'
import {
  BaseXComBackend,
  type CheckContext,
  type CheckResult,
  type DatabaseIdentity,
  MemoryMetadataStore,
  XCom,
  XComError,
} from '../src/index.ts'

/** A backend with a check that records what it was told and returns `results` (or throws `error`). */
class CheckedBackend extends BaseXComBackend {
  seen: CheckContext[] = []
  results: CheckResult[] = [{ name: 'store', ok: true, detail: 'fine' }]
  error: unknown
  async check(ctx: CheckContext): Promise<CheckResult[]> {
    this.seen.push(ctx)
    if (this.error) throw this.error
    return this.results
  }
}

/** A metadata store whose database cannot be reached. */
class DownMetadataStore extends MemoryMetadataStore {
  override async identity(): Promise<DatabaseIdentity> {
    throw new XComError('E_BACKEND', 'Opening postgres://xcom@127.0.0.1:1/test failed: connection refused')
  }
}

describe('XCom.check', () => {
  it('passes on the in-memory database and the inline backend', async () => {
    const report = await new XCom({ metadata: new MemoryMetadataStore() }).check()
    expect(report.ok).toBe(true)
    expect(report.checks).toEqual([
      {
        name: 'metadata database',
        ok: true,
        detail: expect.stringMatching(/^memory:\/\/.*schema is current$/),
      },
      { name: 'backend', ok: true, detail: 'values stay in the metadata database (no object storage)' },
    ])
  })

  it("runs the backend's check with the database identity and reports its failures", async () => {
    const metadata = new MemoryMetadataStore()
    const backend = new CheckedBackend()
    backend.results = [
      {
        name: 'store',
        ok: false,
        detail: 'E_PERMISSION_DENIED: no',
        fix: 'grant',
        code: 'E_PERMISSION_DENIED',
      },
    ]
    const report = await new XCom({ metadata, backend }).check()
    expect(report.ok).toBe(false)
    expect(report.checks.map((check) => [check.name, check.ok])).toEqual([
      ['metadata database', true],
      ['store', false],
    ])
    expect(backend.seen).toEqual([{ database: await metadata.identity() }])
  })

  it('reports a database that is down with its code and a fix, and still checks the backend without it', async () => {
    const backend = new CheckedBackend()
    const report = await new XCom({ metadata: new DownMetadataStore(), backend }).check()
    expect(report.ok).toBe(false)
    expect(report.checks[0]).toMatchObject({
      name: 'metadata database',
      ok: false,
      code: 'E_BACKEND',
      detail: expect.stringContaining('connection refused'),
      fix: expect.stringContaining('XCOM_METADATA_URL'),
    })
    expect(report.checks[1]).toEqual({ name: 'store', ok: true, detail: 'fine' })
    expect(backend.seen).toEqual([{ database: undefined }])
  })

  it('never throws for a failed check: a throwing backend check is one failed result', async () => {
    const backend = new CheckedBackend()
    backend.error = new XComError('E_CONFIG', 'bad bucket')
    const report = await new XCom({ metadata: new MemoryMetadataStore(), backend }).check()
    expect(report.ok).toBe(false)
    expect(report.checks[1]).toMatchObject({
      name: 'backend',
      ok: false,
      code: 'E_CONFIG',
      detail: 'E_CONFIG: bad bucket',
    })
  })

  it('says a backend without a check keeps values where it keeps them', async () => {
    class OwnBackend extends BaseXComBackend {}
    const report = await new XCom({ metadata: new MemoryMetadataStore(), backend: new OwnBackend() }).check()
    expect(report).toEqual({
      ok: true,
      checks: [
        expect.objectContaining({ ok: true }),
        {
          name: 'backend',
          ok: true,
          detail: 'values stay where OwnBackend keeps them (it has no check of its own)',
        },
      ],
    })
  })
})
