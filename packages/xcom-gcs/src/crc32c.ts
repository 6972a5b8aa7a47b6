import type { CRC32CValidator } from '@google-cloud/storage'

/** Slicing-by-8 tables of CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): 8 x 256 entries. */
const TABLE = (() => {
  const table = new Int32Array(8 * 256)
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
    table[byte] = crc
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = table[byte] as number
    for (let slice = 1; slice < 8; slice++) {
      crc = (table[crc & 0xff] as number) ^ (crc >>> 8)
      table[slice * 256 + byte] = crc
    }
  }
  return table
})()

/** Continues the CRC-32C `crc` (0 to start) over `data`: eight bytes per step. */
export function crc32cUpdate(crc: number, data: Uint8Array): number {
  const t = TABLE
  let c = ~crc
  let i = 0
  const end8 = data.length - 7
  for (; i < end8; i += 8) {
    c ^=
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24)
    const hi =
      (data[i + 4] as number) |
      ((data[i + 5] as number) << 8) |
      ((data[i + 6] as number) << 16) |
      ((data[i + 7] as number) << 24)
    c =
      (t[1792 + (c & 0xff)] as number) ^
      (t[1536 + ((c >>> 8) & 0xff)] as number) ^
      (t[1280 + ((c >>> 16) & 0xff)] as number) ^
      (t[1024 + (c >>> 24)] as number) ^
      (t[768 + (hi & 0xff)] as number) ^
      (t[512 + ((hi >>> 8) & 0xff)] as number) ^
      (t[256 + ((hi >>> 16) & 0xff)] as number) ^
      (t[hi >>> 24] as number)
  }
  for (; i < data.length; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8)
  return ~c >>> 0
}

/** A CRC-32C as GCS writes it: 4 bytes big-endian, base64. */
export function crc32cBase64(crc: number): string {
  const bytes = Buffer.alloc(4)
  bytes.writeUInt32BE(crc >>> 0)
  return bytes.toString('base64')
}

/**
 * A faster drop-in for the SDK's CRC-32C validator (its default hashes one byte per iterator step, about 60 MB/s;
 * this one eight bytes per step). Plugged in as `crc32cGenerator` of the clients the store builds, it keeps the
 * SDK's upload and download validation on at a fraction of the cost.
 */
export function fastCrc32cValidator(): CRC32CValidator {
  let crc = 0
  return {
    update(data: Uint8Array) {
      crc = crc32cUpdate(crc, data)
    },
    toString: () => crc32cBase64(crc),
    validate(value: unknown) {
      if (typeof value === 'number') return value >>> 0 === crc
      if (typeof value === 'string') return value === crc32cBase64(crc)
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64') === crc32cBase64(crc)
      return value !== null && value !== undefined && String(value) === crc32cBase64(crc)
    },
  }
}
