/**
 * The short version of `pnpm test:reliability`, with a fixed seed: the fault workload on file + SQLite and on
 * s3rver + PostgreSQL, PostgreSQL backends terminated and s3rver, azurite and the GCS test server restarted
 * mid-workload, and a 10-second load run with 4 workers. Under
 * CI=true a missing service fails these tests; locally they skip loudly.
 */
import { randomUUID } from 'node:crypto'
import { requireServiceOrSkip } from '@xcom/test-services'
import type { faults } from '@xcom/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFaultScenario } from '../src/fault-scenario.ts'
import { checkInvariants } from '../src/invariants.ts'
import { runLoad } from '../src/load.ts'
import { Model } from '../src/model.ts'
import { azuriteRestarts, gcsRestarts, postgresTerminations, s3rverRestarts } from '../src/restart.ts'
import { connectPostgres, type S3Endpoint, startS3, startS3Process } from '../src/services.ts'
import { fileSqliteStack, s3PostgresStack } from '../src/stacks.ts'
import { loadProblems, problemsOf } from '../src/suite.ts'
import { fingerprint, randomishBytes } from '../src/values.ts'
import { idOf } from '../src/workload.ts'

const SEED = 20261203
const OPS = 1500

let s3: S3Endpoint | undefined
let postgres = false

beforeAll(async () => {
  s3 = await requireServiceOrSkip('s3rver', () => startS3())
  postgres =
    (await requireServiceOrSkip('PostgreSQL', async () => {
      const client = await connectPostgres()
      await client.end()
      return true
    })) ?? false
})
afterAll(async () => {
  await s3?.stop()
})

describe('the invariant check', () => {
  it('finds a row whose object was deleted, and an object no row owns', async () => {
    const stack = await fileSqliteStack()
    try {
      const identity = { dagId: 'd0', runId: 'r0', taskId: 't0', mapIndex: -1 }
      const value = randomishBytes('dangling', 4096)
      const record = await stack.clean.push(identity, value)
      const model = new Model()
      model.acknowledge(idOf(identity), fingerprint(value))
      if (record.value.kind !== 'reference') throw new Error('expected an offloaded value')
      const objectKey = String(record.value.ref.objectKey)
      const stray = objectKey.replace(record.id, randomUUID())
      await stack.store.put(stray, new Uint8Array([1, 2, 3])) // names no database: gc leaves it alone
      await stack.store.deleteMany([objectKey])
      const report = await checkInvariants(stack, model)
      expect(report.dangling).toHaveLength(1)
      expect(report.orphans).toEqual([stray])
      expect(report.lost).toHaveLength(1)
    } finally {
      await stack.close()
    }
  })
})

describe('10% injected faults', () => {
  it(`file + SQLite: ${OPS} operations, then nothing lost, dangling or orphaned`, async () => {
    const result = await runFaultScenario(fileSqliteStack, { seed: SEED, ops: OPS })
    expect(problemsOf(result.stack, result)).toEqual([])
    expect(result.workload.survived).toBeGreaterThan(0)
    expect(result.workload.faults.lostAfterCommit ?? 0).toBeGreaterThan(0)
    expect(result.invariants.objects).toBeGreaterThan(0) // offloaded values existed to dangle or leak
    expect(result.ok).toBe(true)
  }, 120_000)

  it(`s3rver + PostgreSQL: ${OPS} operations, then nothing lost, dangling or orphaned`, async (ctx) => {
    const endpoint = s3?.endpoint
    if (!endpoint || !postgres) return ctx.skip()
    const result = await runFaultScenario(
      (plan: ReturnType<typeof faults>) => s3PostgresStack(endpoint, plan),
      {
        seed: SEED,
        ops: OPS,
      },
    )
    expect(problemsOf(result.stack, result)).toEqual([])
    expect(result.workload.survived).toBeGreaterThan(0)
    expect(result.invariants.objects).toBeGreaterThan(0)
    expect(result.ok).toBe(true)
  }, 180_000)
})

describe('a service failing', () => {
  it('PostgreSQL backends terminated again and again mid-workload: the invariants hold afterwards', async (ctx) => {
    const endpoint = s3?.endpoint
    if (!endpoint || !postgres) return ctx.skip()
    const result = await postgresTerminations(endpoint, { seed: SEED, ops: 400, everyMs: 50 })
    expect(problemsOf(result.scenario, result)).toEqual([])
    expect(result.disruptions).not.toMatch(/^0 backends/)
    expect(result.ok).toBe(true)
  }, 180_000)

  it.for<{ service: string; scenario: typeof gcsRestarts; needsPostgres: boolean }>([
    { service: 's3rver (+ PostgreSQL)', scenario: s3rverRestarts, needsPostgres: true },
    { service: 'azurite (+ SQLite)', scenario: azuriteRestarts, needsPostgres: false },
    { service: 'the GCS test server (+ SQLite)', scenario: gcsRestarts, needsPostgres: false },
  ])(
    '$service stopped and restarted 3 times mid-workload: the invariants hold afterwards',
    { timeout: 180_000 },
    async ({ scenario, needsPostgres }, ctx) => {
      if (needsPostgres && !postgres) return ctx.skip()
      const result = await scenario({ seed: SEED, ops: 300, outageMs: 300 })
      expect(problemsOf(result.scenario, result)).toEqual([])
      expect(result.disruptions).toMatch(/^(stopped and restarted|taken down and brought back) 3 times/)
      expect(result.workload.survived).toBeGreaterThan(0) // operations did meet the service down
      expect(result.ok).toBe(true)
    },
  )
})

describe('load', () => {
  it('4 worker processes for 10 s on PostgreSQL + s3rver: no errors, every pull the value pushed last', async (ctx) => {
    if (!postgres || !s3) return ctx.skip()
    const server = await startS3Process()
    try {
      const result = await runLoad({
        mode: 'xcom',
        workers: 4,
        seconds: 10,
        seed: SEED,
        s3Endpoint: server.endpoint,
      })
      expect(loadProblems(result)).toEqual([])
      expect(result.ops).toBeGreaterThan(0)
      expect(result.offloaded.count).toBeGreaterThan(0)
      expect(result.maxConnections).toBeGreaterThan(0)
    } finally {
      await server.stop()
    }
  }, 180_000)
})
