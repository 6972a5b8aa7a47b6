import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { sourceNodeFlags } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { objectFiles, tempDir } from './helpers.ts'

const MiB = 1024 * 1024

describe('streaming keeps memory bounded', () => {
  it('pushes and pulls a 256 MiB stream through file:// with RSS growth under 128 MiB (child process)', () => {
    const root = tempDir()
    const fixtures = resolve(import.meta.dirname, 'fixtures')
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', ...sourceNodeFlags(), '--no-warnings', resolve(fixtures, 'rss-child.ts'), '256', root],
      { encoding: 'utf8', timeout: 120_000 },
    )
    expect(child.status, child.stderr).toBe(0)
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1) as string)
    expect(result).toMatchObject({ size: 256 * MiB, pulled: 256 * MiB, kind: 'reference' })
    expect(result.pushGrowth).toBeLessThan(128 * MiB)
    expect(result.pullGrowth).toBeLessThan(128 * MiB)
    expect(objectFiles(root)).toHaveLength(1)
  })
})
