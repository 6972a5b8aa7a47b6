import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { runsTypeScriptChildren, sourceNodeFlags } from '@xcom/testing'
import { describe, expect, it } from 'vitest'

const MiB = 1024 * 1024

describe.skipIf(!runsTypeScriptChildren)(
  'streaming keeps memory bounded (measured in a child process)',
  () => {
    it('512 MiB through encryptStream -> decryptStream grows RSS by less than 64 MiB', async () => {
      const file = fileURLToPath(new URL('./fixtures/stream-memory.ts', import.meta.url))
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--expose-gc', ...sourceNodeFlags(), '--no-warnings', file, String(512 * MiB)],
        { timeout: 180_000 },
      )
      const result = JSON.parse(stdout) as { received: number; same: boolean; growth: number }
      console.log(`512 MiB streamed: RSS growth ${(result.growth / MiB).toFixed(1)} MiB`)
      expect(result.received).toBe(512 * MiB)
      expect(result.same).toBe(true)
      expect(result.growth).toBeLessThan(64 * MiB)
    }, 180_000)
  },
)
