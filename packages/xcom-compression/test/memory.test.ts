import { runsTypeScriptChildren } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { runFixture } from './helpers.ts'

const MiB = 1024 * 1024

/** Streams `total` bytes through gzip compress + decompress in a fresh Node.js process; returns what it measured. */
function streamInChild(total: number, implementation: 'native' | 'portable') {
  return runFixture<{ total: number; received: number; same: boolean; growth: number }>(
    'stream-memory.ts',
    [String(total), implementation],
    { nodeFlags: ['--expose-gc'], timeout: 180_000 },
  )
}

describe.skipIf(!runsTypeScriptChildren)(
  'streaming keeps memory bounded (measured in a child process)',
  () => {
    it('1 GiB through gzip compressStream + decompressStream grows RSS by less than 64 MiB', async () => {
      const result = await streamInChild(1024 * MiB, 'native')
      console.log(`native gzip, 1 GiB streamed: RSS growth ${(result.growth / MiB).toFixed(1)} MiB`)
      expect(result.received).toBe(1024 * MiB)
      expect(result.same).toBe(true)
      expect(result.growth).toBeLessThan(64 * MiB)
    }, 180_000)

    it('the portable (fflate) path stays bounded too: streaming 4x more data does not grow memory with it', async () => {
      // fflate allocates several times its output in short-lived buffers, and glibc keeps the freed memory, so its
      // absolute RSS growth reflects allocation churn (tens of MiB whatever the size); what must hold is that it
      // does not grow with the amount streamed.
      const small = await streamInChild(24 * MiB, 'portable')
      const large = await streamInChild(96 * MiB, 'portable')
      console.log(
        `portable gzip: RSS growth ${(small.growth / MiB).toFixed(1)} MiB for 24 MiB, ` +
          `${(large.growth / MiB).toFixed(1)} MiB for 96 MiB`,
      )
      expect(small.same && large.same).toBe(true)
      expect(large.growth - small.growth).toBeLessThan(32 * MiB)
      expect(large.growth).toBeLessThan(128 * MiB)
    }, 180_000)
  },
)
