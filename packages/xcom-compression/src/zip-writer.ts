import type { Bytes } from '@xcom/core'
import { XComError } from '@xcom/core'
import { put16, put32 } from './bytes.ts'
import type { Checksum } from './checksum.ts'
import { badOption } from './errors.ts'
import type { EncodeFrame } from './framing.ts'
import { DEFLATED, FLAG_DATA_DESCRIPTOR, MAX_32, SIGNATURE } from './zip-format.ts'

const FLAG_UTF8 = 0x800
/** 1980-01-01 00:00, the earliest MS-DOS date: a fixed timestamp keeps output reproducible. */
const DOS_DATE_1980 = (0 << 9) | (1 << 5) | 1
/** A regular file with mode rw-r--r--, in the high half of "external attributes" (version made by: Unix). */
const UNIX_REGULAR_FILE = 0o100644 * 0x10000

/**
 * The entry name as UTF-8.
 * @throws XComError `E_CONFIG` when it is empty, longer than 65535 bytes or ends with `/` (a directory).
 */
export function entryNameBytes(entryName: string): Bytes {
  const bytes = new TextEncoder().encode(entryName)
  if (
    typeof entryName !== 'string' ||
    bytes.length === 0 ||
    bytes.length > 0xffff ||
    entryName.endsWith('/')
  ) {
    throw badOption(
      'zip entryName',
      'expected a non-empty name of at most 65535 UTF-8 bytes, not ending with "/"',
    )
  }
  return bytes
}

/** Local header, then (after the deflated data) data descriptor, central directory and end record. */
export function zipFrame(name: Bytes, crc32: Checksum): EncodeFrame {
  const flags = FLAG_DATA_DESCRIPTOR | (name.some((byte) => byte > 0x7f) ? FLAG_UTF8 : 0)
  const header = new Uint8Array(30 + name.length)
  put32(header, 0, SIGNATURE.localHeader)
  put16(header, 4, 20) // version needed to extract: 2.0 (deflate)
  put16(header, 6, flags)
  put16(header, 8, DEFLATED)
  put16(header, 12, DOS_DATE_1980) // time 00:00 at offset 10; CRC-32 and sizes (14-25) are in the descriptor
  put16(header, 26, name.length)
  header.set(name, 30)
  return {
    header,
    checksum: crc32,
    initialCheck: 0,
    trailer({ check, size, compressedSize }) {
      const centralOffset = header.length + compressedSize + 16
      if (size > MAX_32 || centralOffset > MAX_32) {
        throw new XComError(
          'E_TOO_LARGE',
          `zip() writes archives of up to 4 GiB (it does not write Zip64), and this value is ${size} bytes; use ` +
            'gzip() or zstd() for values this large.',
        )
      }
      const out = new Uint8Array(16 + 46 + name.length + 22)
      put32(out, 0, SIGNATURE.dataDescriptor)
      put32(out, 4, check)
      put32(out, 8, compressedSize)
      put32(out, 12, size)
      const c = 16
      put32(out, c, SIGNATURE.centralHeader)
      put16(out, c + 4, (3 << 8) | 20) // made by Unix, zip 2.0
      out.set(header.subarray(4, 16), c + 6) // version needed, flags, method, time, date
      put32(out, c + 16, check)
      put32(out, c + 20, compressedSize)
      put32(out, c + 24, size)
      put16(out, c + 28, name.length) // extra, comment, disk, internal attributes: 0
      put32(out, c + 38, UNIX_REGULAR_FILE) // local header offset: 0
      out.set(name, c + 46)
      const e = c + 46 + name.length
      put32(out, e, SIGNATURE.endOfCentralDirectory)
      put16(out, e + 8, 1)
      put16(out, e + 10, 1)
      put32(out, e + 12, 46 + name.length)
      put32(out, e + 16, centralOffset)
      return out
    },
  }
}
