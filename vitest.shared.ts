import { defineConfig } from 'vitest/config'
import { SOURCE_CONDITION } from './packages/xcom-testing/src/children.ts'

/** Workspace packages resolve to their TypeScript sources in tests, so a test never runs a stale build. */
const conditions = [SOURCE_CONDITION, 'node', 'development|production']

/** The vitest configuration every package's `vitest.config.ts` extends. */
export const sharedConfig = defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
    pool: 'forks',
  },
})
