/** Renders a {@link SuiteResult} as the Markdown of reliability-report.md. */
import type { FaultKind } from '@xcom/testing'
import type { LatencySummary, LoadResult } from './load.ts'
import type { SuiteResult } from './suite.ts'
import { OP_KINDS } from './workload.ts'

const KINDS: FaultKind[] = [
  'fail',
  'delay',
  'timeout',
  'failAfterWrite',
  'truncate',
  'corrupt',
  'failBeforeCommit',
  'lostAfterCommit',
]

const row = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`
const table = (head: string[], rows: (string | number)[][]): string[] => [
  row(head),
  row(head.map(() => '---')),
  ...rows.map(row),
]
const sum = (values: Record<string, number>): number => Object.values(values).reduce((a, b) => a + b, 0)
const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1))
const latency = (summary: LatencySummary): string =>
  summary.count === 0 ? 'n/a' : `${ms(summary.p50)} / ${ms(summary.p99)}`
const ratio = (xcom: number, raw: number): string => (raw > 0 ? `${(xcom / raw).toFixed(2)}x` : 'n/a')

/** The report's Markdown. */
export function renderReport(result: SuiteResult): string {
  const { options } = result
  const lines: string[] = [
    '# xcom reliability report',
    '',
    `Generated ${new Date().toISOString()} by \`pnpm test:reliability\` in ${(result.durationMs / 1000).toFixed(0)} s.`,
    `Seed ${options.seed}; ${options.ops} operations per fault workload at a ${options.rate * 100}% fault rate; ` +
      `${options.restartOps} operations per service failure; load runs of ${options.seconds} s with N = ${options.workers.join(', ')}.`,
    '',
    result.failures.length === 0
      ? '**Verdict: every invariant held** (0 values lost, 0 dangling rows, 0 orphans, 0 load errors).'
      : `**Verdict: ${result.failures.length} invariant failures** (listed at the end).`,
    '',
  ]
  if (result.faults.length > 0) {
    lines.push('## Fault injection', '')
    lines.push(
      ...table(
        [
          'stack',
          ...OP_KINDS,
          'ops',
          'failed ops',
          'faults injected',
          'faults survived',
          'writes in doubt',
          'of which seen committed',
          'values lost',
          'dangling rows after gc',
          'orphans after gc',
          'rows / objects at the end',
        ],
        result.faults.map((fault) => [
          fault.stack,
          ...OP_KINDS.map((kind) => fault.workload.ops[kind]),
          sum(fault.workload.ops),
          sum(fault.workload.failed),
          sum(fault.workload.faults as Record<string, number>),
          fault.workload.survived,
          fault.workload.doubted,
          fault.workload.seenCommitted,
          fault.workload.lost.length + fault.invariants.lost.length,
          fault.invariants.dangling.length,
          fault.invariants.orphans.length,
          `${fault.invariants.rows} (${fault.invariants.referenceRows} references) / ${fault.invariants.objects}`,
        ]),
      ),
      '',
      `Writes reported failed although their row change had committed (must be 0 since the fix in "Findings" of ` +
        `packages/reliability/README.md): ${result.faults.map((fault) => `${fault.workload.rejectedAfterCommit} (${fault.stack})`).join(', ')}.`,
      '',
      'Faults injected by kind:',
      '',
      ...table(
        ['kind', ...result.faults.map((fault) => fault.stack)],
        KINDS.map((kind) => [kind, ...result.faults.map((fault) => fault.workload.faults[kind] ?? 0)]),
      ),
      '',
    )
  }
  if (result.restarts.length > 0) {
    lines.push('## Services failing', '')
    lines.push(
      ...table(
        [
          'scenario',
          'what happened',
          'ops',
          'failed ops (coded)',
          'writes in doubt',
          'of which seen committed',
          'values lost',
          'dangling rows after gc',
          'orphans after gc',
          'rows / objects at the end',
        ],
        result.restarts.map((restart) => [
          restart.scenario,
          restart.disruptions,
          sum(restart.workload.ops),
          `${sum(restart.workload.failed)} (${restart.workload.survived})`,
          restart.workload.doubted,
          restart.workload.seenCommitted,
          restart.workload.lost.length + restart.invariants.lost.length,
          restart.invariants.dangling.length,
          restart.invariants.orphans.length,
          `${restart.invariants.rows} (${restart.invariants.referenceRows} references) / ${restart.invariants.objects}`,
        ]),
      ),
      '',
      's3rver and azurite are stopped and started again on the same port with the same data directory; the GCS test ' +
        'server keeps its data in memory, so it is taken down (every connection reset, port closed) and listens again ' +
        'on the same port. Requests in flight when a service goes down fail.',
      '',
    )
  }
  if (result.load.length > 0) {
    lines.push('## Load (PostgreSQL + s3rver, 90% inline / 10% offloaded 1-20 MiB, 1 push : 3 pulls)', '')
    const loadRow = (run: LoadResult): (string | number)[] => [
      run.workers,
      run.mode,
      run.ops,
      run.opsPerSecond.toFixed(1),
      run.mibPerSecond.toFixed(1),
      latency(run.inline),
      latency(run.offloaded),
      run.errors,
      run.maxConnections,
    ]
    lines.push(
      ...table(
        [
          'N',
          'mode',
          'ops',
          'ops/s',
          'MiB/s',
          'inline p50 / p99 ms',
          'offloaded p50 / p99 ms',
          'errors',
          'max PG connections',
        ],
        result.load.flatMap((pair) => [loadRow(pair.xcom), loadRow(pair.raw)]),
      ),
      '',
      'Before the xcom workers start, one push claims the object storage prefix, so the figures are the steady state ' +
        '(not the first write of a prefix; see "Findings" in packages/reliability/README.md).',
      '',
      'xcom relative to raw pg + S3 SDK calls (throughput: higher is better; latency: lower is better):',
      '',
      ...table(
        ['N', 'ops/s', 'inline p50', 'inline p99', 'offloaded p50', 'offloaded p99'],
        result.load.map(({ xcom, raw }) => [
          xcom.workers,
          ratio(xcom.opsPerSecond, raw.opsPerSecond),
          ratio(xcom.inline.p50, raw.inline.p50),
          ratio(xcom.inline.p99, raw.inline.p99),
          ratio(xcom.offloaded.p50, raw.offloaded.p50),
          ratio(xcom.offloaded.p99, raw.offloaded.p99),
        ]),
      ),
      '',
      "Offloaded values of 16 MiB and more (the S3 store's default `partSize`) go up as multipart uploads and come " +
        'down as ranged GETs, where the raw baseline sends one PutObject and one GetObject; s3rver serves those at ' +
        'about half the speed, which accounts for about half the gap (see "Findings" in packages/reliability/README.md).',
      '',
    )
  }
  if (result.failures.length > 0)
    lines.push('## Invariant failures', '', ...result.failures.slice(0, 200).map((line) => `- ${line}`), '')
  return `${lines.join('\n')}\n`
}
