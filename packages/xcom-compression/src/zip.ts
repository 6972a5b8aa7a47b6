import { crc32For } from './checksum.ts'
import { defineCodec, deflateSettings, rawDeflater, slicedDecoder } from './codec.ts'
import { framedEncoder } from './framing.ts'
import type { CompressionCodec, DeflateOptions, Implementation } from './types.ts'
import { ZipReader } from './zip-reader.ts'
import { entryNameBytes, zipFrame } from './zip-writer.ts'

/** Options of {@link zip}: those of every DEFLATE-based codec, and the entry's name. */
export interface ZipOptions extends DeflateOptions {
  /** The name of the single entry, as `unzip` extracts it. UTF-8; must not end with `/`. @default 'data' */
  entryName?: string
  /**
   * Which implementation to run on; see {@link Implementation}. `native` compresses with node:zlib and checks CRC-32
   * natively; reading always inflates with fflate, which reports where the compressed data ends.
   * @default 'auto'
   */
  implementation?: Implementation
}

/**
 * A single-entry zip archive, suffix `.zip`, that `unzip`, Python's zipfile (Airflow's `compression = zip`) and
 * every archive tool read. Writing is streamed: the entry is deflated and followed by a data descriptor (general
 * purpose flag 3) carrying its CRC-32 and sizes, then the central directory; `unzip -t` accepts it. Archives are
 * limited to 4 GiB (no Zip64 writing). Reading takes the first file entry (skipping directory entries) of an
 * archive from any tool, stored or deflated, with or without data descriptors, Zip64 sizes included; it verifies the
 * CRC-32 and sizes and requires the end-of-central-directory record at the very end.
 * @throws XComError `E_CONFIG` for a level outside 0-9, a bad entry name or an unusable `implementation`.
 */
export function zip(options: ZipOptions = {}): CompressionCodec {
  const { level, native } = deflateSettings('zip', options)
  const name = entryNameBytes(options.entryName ?? 'data')
  const crc32 = crc32For(native)
  return defineCodec({
    name: 'zip',
    suffix: '.zip',
    implementation: native !== undefined ? 'native' : 'portable',
    encoder: framedEncoder(zipFrame(name, crc32), rawDeflater(level, native)),
    decoder: slicedDecoder((sink, failures) => new ZipReader(sink, failures, crc32)),
  })
}
