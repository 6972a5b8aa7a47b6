import { defineCodec } from './codec.ts'
import type { Sink, Transformer } from './pipeline.ts'
import type { CompressionCodec } from './types.ts'

/**
 * No compression: bytes pass through unchanged, suffix empty. Decompression still
 * enforces `maxSize`. What {@link compressIfWorthIt} picks when compressing would not pay off.
 */
export function none(): CompressionCodec {
  const passThrough = (sink: Sink): Transformer => ({
    write: async (chunk) => {
      sink.push(chunk)
      if (!sink.wantsMore) await sink.waitForDemand()
    },
    end: () => {},
    destroy: () => {},
  })
  return defineCodec({
    name: 'none',
    suffix: '',
    implementation: 'portable',
    encoder: passThrough,
    decoder: passThrough,
  })
}
