// The zip records (APPNOTE.TXT) that both the writer and the reader of `zip()` know.

/** The signature that starts each record. */
export const SIGNATURE = {
  localHeader: 0x04034b50,
  /** Optional before a data descriptor. */
  dataDescriptor: 0x08074b50,
  centralHeader: 0x02014b50,
  endOfCentralDirectory: 0x06054b50,
  zip64EndLocator: 0x07064b50,
} as const

/** General purpose flag 3: CRC-32 and sizes follow the data, in a data descriptor. */
export const FLAG_DATA_DESCRIPTOR = 0x8
/** Compression method 8. */
export const DEFLATED = 8
/** Largest value of a 32-bit field; in a size or offset it means "see the Zip64 record". */
export const MAX_32 = 0xffffffff
