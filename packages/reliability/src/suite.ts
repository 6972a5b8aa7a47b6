/**
 * The whole proof, sized by options: the fault workloads, the services failing, the load runs. `run.ts` runs it from
 * the environment and writes the report; the vitest file runs the same pieces, smaller.
 */
import { type FaultScenarioResult, runFaultScenario } from './fault-scenario.ts'
import { type LoadResult, runLoad } from './load.ts'
import {
  azuriteRestarts,
  gcsRestarts,
  postgresTerminations,
  type RestartResult,
  s3rverRestarts,
} from './restart.ts'
import { startS3, startS3Process } from './services.ts'
import { fileSqliteStack, s3PostgresStack } from './stacks.ts'

/** Sizes and switches of a run (see the README for the environment variables that set them). */
export interface SuiteOptions {
  seed: number
  /** Operations of each fault workload. */
  ops: number
  /** Share of store calls faulted. */
  rate: number
  /** Operations of each restart scenario. */
  restartOps: number
  /** Seconds of each load run. */
  seconds: number
  /** Worker counts of the load runs. */
  workers: number[]
  /** Which parts run. */
  scenarios: { faults: boolean; restarts: boolean; load: boolean }
}

/** Reads {@link SuiteOptions} from XCOM_RELIABILITY_* variables. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): SuiteOptions {
  const number = (name: string, fallback: number): number => {
    const raw = env[`XCOM_RELIABILITY_${name}`]
    if (raw === undefined || raw === '') return fallback
    const value = Number(raw)
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`XCOM_RELIABILITY_${name} must be a number, not "${raw}"`)
    return value
  }
  const only = (env.XCOM_RELIABILITY_SCENARIOS ?? 'faults,restarts,load')
    .split(',')
    .map((part) => part.trim())
  return {
    seed: number('SEED', 15),
    ops: number('OPS', 10_000),
    rate: number('RATE', 0.1),
    restartOps: number('RESTART_OPS', 1000),
    seconds: number('SECONDS', 30),
    workers: (env.XCOM_RELIABILITY_WORKERS ?? '4,16')
      .split(',')
      .map(Number)
      .filter((n) => n > 0),
    scenarios: {
      faults: only.includes('faults'),
      restarts: only.includes('restarts'),
      load: only.includes('load'),
    },
  }
}

/** One load comparison: the same work through XCom and through raw pg + S3 SDK calls. */
export interface LoadPair {
  xcom: LoadResult
  raw: LoadResult
}

/** Everything a run measured, and what failed. */
export interface SuiteResult {
  options: SuiteOptions
  faults: FaultScenarioResult[]
  restarts: RestartResult[]
  load: LoadPair[]
  /** One line per broken invariant; empty when the run proves what it should. */
  failures: string[]
  durationMs: number
}

/** Lines describing what is wrong with a fault or restart result. */
export function problemsOf(name: string, result: FaultScenarioResult | RestartResult): string[] {
  const { workload, invariants } = result
  return [
    ...workload.lost.map((line) => `${name}: value lost: ${line}`),
    ...workload.unexplained.map((line) => `${name}: unexplained failure: ${line}`),
    ...invariants.lost.map((line) => `${name}: value lost at the end: ${line}`),
    ...invariants.dangling.map((line) => `${name}: dangling row: ${line}`),
    ...invariants.orphans.map((line) => `${name}: orphan object: ${line}`),
  ]
}

/** Lines describing what is wrong with a load result (errors and wrong values must be zero). */
export function loadProblems(result: LoadResult): string[] {
  const name = `load ${result.mode} N=${result.workers}`
  return [
    ...(result.errors > 0 ? [`${name}: ${result.errors} errors (${result.errorSamples.join(' | ')})`] : []),
    ...(result.mismatches > 0 ? [`${name}: ${result.mismatches} pulls returned another value`] : []),
  ]
}

/** Runs the selected parts; `log` gets one line per step. */
export async function runSuite(
  options: SuiteOptions,
  log: (line: string) => void = console.log,
): Promise<SuiteResult> {
  const started = performance.now()
  const result: SuiteResult = { options, faults: [], restarts: [], load: [], failures: [], durationMs: 0 }
  const { seed } = options
  if (options.scenarios.faults || options.scenarios.restarts) {
    const s3 = await startS3()
    try {
      if (options.scenarios.faults) {
        for (const open of [
          fileSqliteStack,
          (plan: Parameters<typeof fileSqliteStack>[0]) => s3PostgresStack(s3.endpoint, plan),
        ]) {
          const fault = await runFaultScenario(open, { seed, ops: options.ops, rate: options.rate })
          log(
            `faults on ${fault.stack}: ${fault.ok ? 'ok' : 'FAILED'} in ${(fault.workload.durationMs / 1000).toFixed(1)} s`,
          )
          result.faults.push(fault)
          result.failures.push(...problemsOf(`faults on ${fault.stack}`, fault))
        }
      }
      if (options.scenarios.restarts) {
        const scenarios = [
          () => postgresTerminations(s3.endpoint, { seed: seed + 1, ops: options.restartOps }),
          () => s3rverRestarts({ seed: seed + 2, ops: options.restartOps }),
          () => azuriteRestarts({ seed: seed + 3, ops: options.restartOps }),
          () => gcsRestarts({ seed: seed + 4, ops: options.restartOps }),
        ]
        for (const scenario of scenarios) {
          const restart = await scenario()
          log(`${restart.scenario}: ${restart.ok ? 'ok' : 'FAILED'} (${restart.disruptions})`)
          result.restarts.push(restart)
          result.failures.push(...problemsOf(restart.scenario, restart))
        }
      }
    } finally {
      await s3.stop()
    }
  }
  if (options.scenarios.load) {
    const s3 = await startS3Process() // its own process: the parent's sampling never slows it down
    try {
      for (const workers of options.workers) {
        const common = { workers, seconds: options.seconds, seed, s3Endpoint: s3.endpoint }
        const xcom = await runLoad({ ...common, mode: 'xcom' })
        const raw = await runLoad({ ...common, mode: 'raw' })
        log(
          `load N=${workers}: xcom ${xcom.opsPerSecond.toFixed(1)} ops/s, raw ${raw.opsPerSecond.toFixed(1)} ops/s`,
        )
        result.load.push({ xcom, raw })
        result.failures.push(...loadProblems(xcom), ...loadProblems(raw))
      }
    } finally {
      await s3.stop()
    }
  }
  result.durationMs = performance.now() - started
  return result
}
