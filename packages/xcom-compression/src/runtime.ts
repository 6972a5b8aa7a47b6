import type * as NodeZlib from 'node:zlib'
import { badOption } from './errors.ts'
import type { Implementation } from './types.ts'

/** The node:zlib module's shape, as far as this package uses it. */
export type ZlibModule = typeof NodeZlib

/**
 * node:zlib when the runtime has it, found without a static import so that the package also loads where it does not
 * exist (browsers, edge runtimes): there the codecs use the portable path.
 */
export function nodeZlib(): ZlibModule | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const zlib = proc?.getBuiltinModule?.('node:zlib') as ZlibModule | undefined
  return typeof zlib?.createGzip === 'function' ? zlib : undefined
}

/**
 * node:zlib when `implementation` asks for (or allows) the native path, `undefined` for the portable path.
 * @throws XComError `E_CONFIG` when `native` is required but node:zlib is absent, or the value is not an Implementation.
 */
export function resolveNative(
  implementation: Implementation | undefined,
  codec: string,
): ZlibModule | undefined {
  const choice = implementation ?? 'auto'
  if (choice === 'portable') return undefined
  if (choice !== 'auto' && choice !== 'native') {
    throw badOption(
      `${codec} implementation`,
      `expected "auto", "native" or "portable", got ${JSON.stringify(choice)}`,
    )
  }
  const zlib = nodeZlib()
  if (zlib === undefined && choice === 'native') {
    throw badOption(
      `${codec} implementation`,
      '"native" needs node:zlib, which this runtime does not provide; use "auto" or "portable"',
    )
  }
  return zlib
}

/** Whether `zlib` (a node:zlib module) provides zstd. */
export function hasZstd(zlib: ZlibModule | undefined): zlib is ZlibModule {
  return typeof zlib?.createZstdCompress === 'function' && typeof zlib.createZstdDecompress === 'function'
}

/** Two zstd frames holding "a" and "b" (single segment, one raw block each, no checksum). */
const TWO_FRAMES = Uint8Array.of(
  ...[0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x01, 0x09, 0x00, 0x00, 0x61],
  ...[0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x01, 0x09, 0x00, 0x00, 0x62],
)

/**
 * Whether the zstd decoder of `zlib` reads on past the end of a frame into the next one. It is a runtime property:
 * Node.js 24 (recent minors) does, Node.js 22 stops after the first frame.
 */
export function readsConcatenatedZstd(zlib: ZlibModule): boolean {
  try {
    return new TextDecoder().decode(zlib.zstdDecompressSync(TWO_FRAMES)) === 'ab'
  } catch {
    return false
  }
}
