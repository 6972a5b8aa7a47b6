#!/usr/bin/env node
// Runs every package's tests through turbo, then prints one line totalled from vitest's own JSON reports:
// `N passed, N failed, N skipped`. Exits non-zero when any test failed or any package produced no report.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const packagesDir = join(root, 'packages')
const packages = readdirSync(packagesDir).filter((name) => {
  const manifest = join(packagesDir, name, 'package.json')
  return existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).scripts?.test
})
for (const name of packages) rmSync(join(packagesDir, name, '.reports'), { recursive: true, force: true })

const turbo = spawnSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'test', '--continue', '--concurrency=1', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
)

let passed = 0
let failed = 0
let skipped = 0
const missing = []
for (const name of packages) {
  const report = join(packagesDir, name, '.reports', 'vitest.json')
  if (!existsSync(report)) {
    missing.push(name)
    continue
  }
  const json = JSON.parse(readFileSync(report, 'utf8'))
  passed += json.numPassedTests
  failed += json.numFailedTests
  skipped += json.numPendingTests + json.numTodoTests
  // A test file that failed to load counts as a failure even though it reports no tests.
  failed += json.testResults.filter(
    (file) => file.status === 'failed' && file.assertionResults.length === 0,
  ).length
}
if (missing.length > 0 && process.argv.length <= 2) {
  console.error(`No test report from: ${missing.join(', ')} (their test run crashed or did not start).`)
  failed += missing.length
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || turbo.status !== 0 ? 1 : 0)
