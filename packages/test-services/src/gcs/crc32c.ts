/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Google Cloud Storage reports as `crc32c`.
 * Table-driven, slicing-by-8: eight 256-entry tables let the loop fold eight input bytes per step.
 * (`node:zlib`'s `crc32` is the IEEE CRC-32, a different polynomial, so it cannot be used here.)
 */

const TABLES: Uint32Array[] = buildTables()

function buildTables(): Uint32Array[] {
  const first = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    first[n] = c >>> 0
  }
  const tables = [first]
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1]!
    const table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) table[n] = (previous[n]! >>> 8) ^ first[previous[n]! & 0xff]!
    tables.push(table)
  }
  return tables
}

/**
 * Continues a CRC-32C over `data`.
 *
 * @param crc - the CRC of the bytes before `data` (0 to start)
 * @param data - the next bytes
 * @returns the CRC of all bytes so far, as an unsigned 32-bit integer
 */
export function crc32cUpdate(crc: number, data: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ]
  let c = ~crc
  let i = 0
  const n = data.length
  const end8 = n - (n % 8)
  while (i < end8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    c =
      t7[c & 0xff]! ^
      t6[(c >>> 8) & 0xff]! ^
      t5[(c >>> 16) & 0xff]! ^
      t4[c >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!
    i += 8
  }
  while (i < n) c = t0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

/**
 * Encodes a CRC-32C the way GCS does: 4 bytes big-endian, base64.
 *
 * @param crc - an unsigned 32-bit CRC-32C
 * @returns e.g. `"mnG7TA=="` for the CRC of `"hello"`
 */
export function crc32cBase64(crc: number): string {
  const bytes = Buffer.alloc(4)
  bytes.writeUInt32BE(crc >>> 0)
  return bytes.toString('base64')
}
