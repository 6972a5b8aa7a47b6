import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runsTypeScriptChildren } from '@xcom/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import { type CompressionCodec, deflate, gzip, isZstdAvailable, zip, zstd } from '../src/index.ts'
import type { FrameFeed } from '../src/zstd.ts'
import { runFixture, runsZstdFeed, tempDir } from './helpers.ts'

const MiB = 1024 * 1024
const dir = tempDir()

/** `codec`'s compression of `total` zeros, streamed from one reused chunk so that the zeros never exist at once. */
async function compressZeros(codec: CompressionCodec, total: number): Promise<Uint8Array> {
  const zeros = new Uint8Array(MiB)
  let left = total / MiB
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left-- === 0) controller.close()
      else controller.enqueue(zeros)
    },
  })
  return new Uint8Array(await new Response(source.pipeThrough(codec.compressStream())).arrayBuffer())
}

/** Runs fixtures/bomb-memory.ts in a fresh process, so that its peak RSS is the decompression's alone. */
function decompressInChild(codec: string, file: string, maxSize: number) {
  return runFixture<{ whole: string; streamed: string; delivered: number; growth: number }>(
    'bomb-memory.ts',
    [codec, file, String(maxSize)],
    { timeout: 120_000 },
  )
}

// 1 GiB of zeros in a few MiB: inflated in full, it would take over 1 GiB of memory before failing.
describe.skipIf(!runsTypeScriptChildren)(
  'maxSize stops a decompression bomb early: E_TOO_LARGE, memory bounded (measured in a child process)',
  () => {
    const bombs: Record<string, string> = {}
    const formats = ['gzip', 'deflate', 'zip', ...(isZstdAvailable() ? ['zstd'] : [])]

    beforeAll(async () => {
      const makers: Record<string, () => Promise<Uint8Array>> = {
        gzip: () => compressZeros(gzip({ level: 1 }), 1024 * MiB),
        deflate: () => compressZeros(deflate({ level: 1 }), 1024 * MiB),
        zip: () => compressZeros(zip({ level: 1 }), 1024 * MiB),
        // 16 frames of 64 MiB: the bound applies to the output of all frames together.
        zstd: async () => {
          const frame = await compressZeros(zstd({ level: 1 }), 64 * MiB)
          return new Uint8Array(Buffer.concat(Array(16).fill(frame)))
        },
      }
      for (const format of formats) {
        const bomb = await makers[format]!()
        expect(bomb.byteLength).toBeLessThan(8 * MiB)
        bombs[format] = join(dir, `bomb-${format}`)
        writeFileSync(bombs[format], bomb)
      }
    }, 120_000)

    const variants = [
      ...['gzip native', 'gzip portable', 'deflate native', 'deflate portable'],
      ...['zip native', 'zip portable', 'zstd apart', 'zstd together'],
    ]
    for (const variant of variants) {
      const [format, way] = variant.split(' ') as [string, string]
      const runs = format !== 'zstd' || runsZstdFeed(way as FrameFeed)
      it.skipIf(!runs)(
        `${variant}: 1 GiB of zeros with maxSize 1 MiB, whole and streamed`,
        async () => {
          const result = await decompressInChild(variant, bombs[format]!, MiB)
          expect(result.whole).toBe('E_TOO_LARGE')
          expect(result.streamed).toBe('E_TOO_LARGE')
          expect(result.delivered).toBeLessThanOrEqual(MiB)
          expect(result.growth).toBeLessThan(300 * MiB)
        },
        120_000,
      )
    }
  },
)
