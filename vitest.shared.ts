import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = dirname(fileURLToPath(import.meta.url))
const packagesDir = join(root, 'packages')

/** Workspace packages resolve to their TypeScript sources in tests, so a test never runs a stale build. */
const alias = readdirSync(packagesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((entry) => {
    try {
      const pkg = JSON.parse(readFileSync(join(packagesDir, entry.name, 'package.json'), 'utf8'))
      const exportsMap: Record<string, unknown> = pkg.exports ?? {}
      return Object.keys(exportsMap).map((subpath) => {
        const spec = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`
        const source = subpath === '.' ? 'index.ts' : `${subpath.slice(2)}.ts`
        return {
          find: new RegExp(`^${spec.replace(/[/.]/g, '\\$&')}$`),
          replacement: join(packagesDir, entry.name, 'src', source),
        }
      })
    } catch {
      return []
    }
  })

/** The vitest configuration every package's `vitest.config.ts` extends. */
export const sharedConfig = defineConfig({
  resolve: { alias },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
    pool: 'forks',
  },
})
