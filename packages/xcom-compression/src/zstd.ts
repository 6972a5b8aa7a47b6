import type { Bytes } from '@xcom/core'
import { XComError } from '@xcom/core'
import { checkLevel, defineCodec, ENGINE_CHUNK, engineDecoder, engineEncoder } from './codec.ts'
import type { Failures } from './errors.ts'
import type { Transformer } from './pipeline.ts'
import { hasZstd, nodeZlib, readsConcatenatedZstd, resolveNative, type ZlibModule } from './runtime.ts'
import type { CompressionCodec, Implementation } from './types.ts'
import { type FramePiece, ZstdFrameReader } from './zstd-frames.ts'

/** Options of {@link zstd}. */
export interface ZstdOptions {
  /** 1 (fastest) to 22 (smallest output, slowest). @default 3 */
  level?: number
  /**
   * zstd exists only natively (node:zlib in Node.js >= 22.15 or >= 23.8); `portable` therefore fails.
   * @default 'auto'
   */
  implementation?: Implementation
}

/**
 * Zstandard (RFC 8878), suffix `.zst`, on the runtime's native zstd. Frames are written with a content checksum, so
 * corruption is detected on reading. Reading is that of `zstd -d`: concatenated frames decode to the concatenation of
 * their contents and skippable frames are skipped, on every Node.js version; any other data after the last frame, and
 * input that ends inside a frame, are `E_CORRUPT`.
 * @throws XComError `E_UNKNOWN_CODEC` when the runtime has no zstd (it says which Node.js is needed);
 * `E_CONFIG` for a level outside 1-22.
 */
export function zstd(options: ZstdOptions = {}): CompressionCodec {
  const level = checkLevel('zstd', options.level ?? 3, 1, 22)
  const native = resolveNative(options.implementation, 'zstd')
  if (!hasZstd(native)) throw zstdUnavailable()
  return nativeZstd(native, level, readsConcatenatedZstd(native) ? 'together' : 'apart')
}

/**
 * How decompression hands frames to node:zlib: `together` to one engine (for decoders that read across frame ends),
 * `apart` to a new engine per frame (for decoders that stop after the first). Both give the same output and errors.
 */
export type FrameFeed = 'together' | 'apart'

/** The {@link zstd} codec at `level` on `native`, decompressing with `feed` (tests force each one). */
export function nativeZstd(native: ZlibModule, level: number, feed: FrameFeed): CompressionCodec {
  const { ZSTD_c_compressionLevel, ZSTD_c_checksumFlag } = native.constants
  const engine = engineDecoder(() => native.createZstdDecompress({ chunkSize: ENGINE_CHUNK }))
  return defineCodec({
    name: 'zstd',
    suffix: '.zst',
    implementation: 'native',
    encoder: engineEncoder(() =>
      native.createZstdCompress({
        chunkSize: ENGINE_CHUNK,
        params: { [ZSTD_c_compressionLevel]: level, [ZSTD_c_checksumFlag]: 1 },
      }),
    ),
    decoder: (sink, failures) => new ZstdDecoder(failures, feed, () => engine(sink, failures)),
  })
}

/** Reads the frames with {@link ZstdFrameReader} and feeds only zstd frames, whole and in order, to the engines. */
class ZstdDecoder implements Transformer {
  private readonly reader: ZstdFrameReader
  private readonly feed: FrameFeed
  private readonly newEngine: () => Transformer
  private engine: Transformer | undefined
  private destroyed: { reason: unknown } | undefined

  constructor(failures: Failures, feed: FrameFeed, newEngine: () => Transformer) {
    this.reader = new ZstdFrameReader(failures)
    this.feed = feed
    this.newEngine = newEngine
  }

  async write(chunk: Bytes): Promise<void> {
    this.reader.push(chunk)
    for (let piece = this.next(); piece !== undefined; piece = this.next()) {
      this.engine ??= this.newEngine()
      if (piece.bytes.byteLength > 0) await this.engine.write(piece.bytes)
      if (piece.frameEnd && this.feed === 'apart') {
        await this.engine.end()
        this.engine = undefined
      }
    }
  }

  async end(): Promise<void> {
    this.reader.finish()
    await this.engine?.end()
  }

  destroy(reason: unknown): void {
    this.destroyed ??= { reason }
    this.engine?.destroy(reason)
  }

  private next(): FramePiece | undefined {
    // A run that failed or was cancelled must not start another engine on the rest of the input.
    if (this.destroyed !== undefined) throw this.destroyed.reason
    return this.reader.next()
  }
}

/** Whether this runtime can run {@link zstd}: node:zlib with zstd (Node.js >= 22.15, or >= 23.8). */
export function isZstdAvailable(): boolean {
  return hasZstd(nodeZlib())
}

function zstdUnavailable(): XComError {
  const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node
  const runtime = node === undefined ? 'this runtime has no node:zlib' : `this is Node.js ${node}`
  return new XComError(
    'E_UNKNOWN_CODEC',
    `The zstd codec is not available: it needs the native zstd of node:zlib, which Node.js >= 22.15 (or >= 23.8) ` +
      `provides, and ${runtime}. Upgrade Node.js, or use gzip() instead.`,
  )
}
