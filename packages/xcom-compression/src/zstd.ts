import { XComError } from '@xcom/core'
import { checkLevel, ENGINE_CHUNK, nativeCodec } from './codec.js'
import { hasZstd, nodeZlib, resolveNative } from './runtime.js'
import type { CompressionCodec, Implementation } from './types.js'

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
 * corruption is detected on reading. Reading accepts one frame (what `zstd`, Python's zstandard and this codec
 * write); data after it, a second frame included, is `E_CORRUPT`.
 * @throws XComError `E_UNKNOWN_CODEC` when the runtime has no zstd (it says which Node.js is needed);
 * `E_CONFIG` for a level outside 1-22.
 */
export function zstd(options: ZstdOptions = {}): CompressionCodec {
  const level = checkLevel('zstd', options.level ?? 3, 1, 22)
  const native = resolveNative(options.implementation, 'zstd')
  if (!hasZstd(native)) throw zstdUnavailable()
  const { ZSTD_c_compressionLevel, ZSTD_c_checksumFlag } = native.constants
  return nativeCodec({
    name: 'zstd',
    suffix: '.zst',
    compressor: () =>
      native.createZstdCompress({
        chunkSize: ENGINE_CHUNK,
        params: { [ZSTD_c_compressionLevel]: level, [ZSTD_c_checksumFlag]: 1 },
      }),
    decompressor: () => native.createZstdDecompress({ chunkSize: ENGINE_CHUNK }),
  })
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
