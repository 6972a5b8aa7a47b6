/**
 * `pnpm test:reliability`: runs the suite sized by XCOM_RELIABILITY_* variables, writes reliability-report.md at the
 * repository root (or XCOM_RELIABILITY_REPORT), and exits non-zero when any invariant failed.
 */
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { renderReport } from './report.ts'
import { optionsFromEnv, runSuite } from './suite.ts'

const reportPath =
  process.env.XCOM_RELIABILITY_REPORT ??
  fileURLToPath(new URL('../../../reliability-report.md', import.meta.url))
const options = optionsFromEnv()
console.log(
  `xcom reliability: seed ${options.seed}, ${options.ops} ops per fault workload, load ${options.seconds} s`,
)
try {
  const result = await runSuite(options, (line) => console.log(line))
  await writeFile(reportPath, renderReport(result))
  console.log(`Wrote ${reportPath} in ${(result.durationMs / 1000).toFixed(0)} s`)
  for (const failure of result.failures.slice(0, 50)) console.error(`FAILED: ${failure}`)
  process.exitCode = result.failures.length === 0 ? 0 : 1
} catch (error) {
  // A service that cannot start or a crash is a failed proof, never a skipped one.
  console.error('xcom reliability: the run could not complete:', error)
  process.exitCode = 2
}
