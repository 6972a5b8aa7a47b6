import type { ByteSource, Bytes, Codec } from '@xcom/core'
import { concatBytes, toReadableStream } from '@xcom/core/adapter'
import { badOption } from './errors.ts'
import { none } from './none.ts'

/** Options of {@link compressIfWorthIt}. */
export interface WorthItOptions {
  /**
   * The compressed form is kept only when `compressed size / original size <= minRatio`; otherwise the value is
   * stored as is with the `none` codec. 0.9 means "compression must save at least 10%". From 0 (exclusive) to 1.
   * @default 0.9
   */
  minRatio?: number
}

/** What to store: the codec actually used (`none` when compression did not pay) and the bytes. */
export interface WorthItResult {
  codec: Codec
  data: Bytes
  /** Stored size / original size (1 when stored as is). */
  ratio: number
}

/**
 * Compress `data` with `codec`, unless that would not shrink it to `minRatio` of its size or less: then the result
 * is `{ codec: none(), data }` (the original bytes), and the caller records `none` so readers skip decompression.
 * Empty input is never compressed.
 * @throws XComError `E_CONFIG` for a `minRatio` outside (0, 1].
 */
export async function compressIfWorthIt(
  codec: Codec,
  data: Bytes,
  options: WorthItOptions = {},
): Promise<WorthItResult> {
  const minRatio = checkRatio(options.minRatio)
  if (codec.name === 'none' || data.byteLength === 0) return { codec: none(), data, ratio: 1 }
  const compressed = await codec.compress(data)
  const ratio = compressed.byteLength / data.byteLength
  return ratio <= minRatio ? { codec, data: compressed, ratio } : { codec: none(), data, ratio: 1 }
}

/** Options of {@link compressStreamIfWorthIt}. */
export interface StreamWorthItOptions extends WorthItOptions {
  /** Bytes read from the start of the source to decide. @default 262144 (256 KiB) */
  sampleSize?: number
}

/** The decision and the bytes to store, as a stream. */
export interface StreamWorthItResult {
  codec: Codec
  stream: ReadableStream<Bytes>
  /** Compressed size / size of the sample the decision was made on. */
  sampleRatio: number
}

/**
 * The streaming form of {@link compressIfWorthIt}: reads the first `sampleSize` bytes, compresses them to decide,
 * then returns a stream of the whole source, compressed with `codec` or passed through with `none`. Memory holds
 * the sample only. A source no longer than the sample is decided on its exact compressed size.
 * @throws XComError `E_CONFIG` for a `minRatio` outside (0, 1] or a `sampleSize` below 1.
 */
export async function compressStreamIfWorthIt(
  codec: Codec,
  source: ByteSource,
  options: StreamWorthItOptions = {},
): Promise<StreamWorthItResult> {
  const minRatio = checkRatio(options.minRatio)
  const sampleSize = options.sampleSize ?? 256 * 1024
  if (!Number.isInteger(sampleSize) || sampleSize < 1) {
    throw badOption('sampleSize', `expected an integer >= 1, got ${String(sampleSize)}`)
  }
  const reader = toReadableStream(source).getReader()
  const chunks: Bytes[] = []
  let sampled = 0
  let ended = false
  while (sampled < sampleSize) {
    const { done, value } = await reader.read()
    if (done) {
      ended = true
      break
    }
    chunks.push(value)
    sampled += value.byteLength
  }
  const sample = concatBytes(chunks)
  if (ended) {
    reader.releaseLock()
    const result = await compressIfWorthIt(codec, sample, { minRatio })
    return { codec: result.codec, stream: toReadableStream(result.data), sampleRatio: result.ratio }
  }
  const ratio = (await codec.compress(sample)).byteLength / sample.byteLength
  let first = true
  const whole = new ReadableStream<Bytes>({
    async pull(controller) {
      if (first) {
        first = false
        controller.enqueue(sample)
        return
      }
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel: (reason) => reader.cancel(reason),
  })
  return ratio <= minRatio
    ? { codec, stream: whole.pipeThrough(codec.compressStream()), sampleRatio: ratio }
    : { codec: none(), stream: whole, sampleRatio: ratio }
}

function checkRatio(minRatio: number | undefined): number {
  const ratio = minRatio ?? 0.9
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) {
    throw badOption('minRatio', `expected a number in (0, 1], got ${String(minRatio)}`)
  }
  return ratio
}
