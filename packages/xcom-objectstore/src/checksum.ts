import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'

/**
 * The checksum algorithms a reference can name.
 * - `crc32`: CRC-32 (IEEE 802.3, the checksum of gzip and zip), about 5 GB/s: detects accidental damage (bit rot,
 *   truncation, a wrong or half-written object) like the CRCs S3 and GCS use for the same purpose.
 * - `sha256`: SHA-256, about 1.8 GB/s: also makes the reference pin the content, so someone who can write to the
 *   bucket but not to the metadata database cannot swap an object for another that reads back without `E_CORRUPT`.
 */
export type ChecksumAlgorithm = 'crc32' | 'sha256'

/**
 * Every {@link ChecksumAlgorithm}: the digits of its checksums (`<algorithm>:<lowercase hex digest>`), and whether it
 * is cheap enough to hash a value of any size before its upload when the store uploads whole buffers faster than
 * streams (CRC-32 costs a fraction of any upload; SHA-256 is then hashed while the value streams).
 */
export const CHECKSUM_ALGORITHMS: Readonly<
  Record<ChecksumAlgorithm, { hexDigits: number; hashFirstAnySize: boolean }>
> = {
  crc32: { hexDigits: 8, hashFirstAnySize: true },
  sha256: { hexDigits: 64, hashFirstAnySize: false },
}

/** An incremental checksum: `update` with every part in order, then `digest` once. */
export interface Checksum {
  update(bytes: Uint8Array): void
  /** `<algorithm>:<hex>`, e.g. `crc32:1c291ca3`. */
  digest(): string
}

/** True for the name of a {@link ChecksumAlgorithm}. */
export function isChecksumAlgorithm(name: unknown): name is ChecksumAlgorithm {
  return typeof name === 'string' && Object.hasOwn(CHECKSUM_ALGORITHMS, name)
}

/** A new incremental checksum of `algorithm`. */
export function createChecksum(algorithm: ChecksumAlgorithm): Checksum {
  if (algorithm === 'sha256') {
    const hash = createHash('sha256')
    return {
      update: (bytes) => {
        hash.update(bytes)
      },
      digest: () => `sha256:${hash.digest('hex')}`,
    }
  }
  let value = 0
  return {
    update: (bytes) => {
      value = crc32(bytes, value)
    },
    digest: () => `crc32:${value.toString(16).padStart(8, '0')}`,
  }
}

/** The checksum of `bytes` as `<algorithm>:<hex>`. */
export function checksumOf(bytes: Uint8Array, algorithm: ChecksumAlgorithm): string {
  const checksum = createChecksum(algorithm)
  checksum.update(bytes)
  return checksum.digest()
}

/** The algorithm of a well-formed checksum (`crc32:` and 8 hex digits, `sha256:` and 64), else undefined. */
export function algorithmOf(checksum: unknown): ChecksumAlgorithm | undefined {
  if (typeof checksum !== 'string') return undefined
  const colon = checksum.indexOf(':')
  const name = checksum.slice(0, colon)
  if (colon < 0 || !isChecksumAlgorithm(name)) return undefined
  const hex = checksum.slice(colon + 1)
  return hex.length === CHECKSUM_ALGORITHMS[name].hexDigits && /^[0-9a-f]+$/.test(hex) ? name : undefined
}
