// The zip records (APPNOTE.TXT) that both the writer and the reader of `zip()` know.

/** Signature of a local file header. */
export const LOCAL_HEADER = 0x04034b50
/** Signature of a data descriptor (optional before the descriptor itself). */
export const DATA_DESCRIPTOR = 0x08074b50
/** Signature of a central directory file header. */
export const CENTRAL_HEADER = 0x02014b50
/** Signature of the end-of-central-directory record. */
export const END_OF_CENTRAL_DIRECTORY = 0x06054b50
/** General purpose flag 3: CRC-32 and sizes follow the data, in a data descriptor. */
export const FLAG_DATA_DESCRIPTOR = 0x8
/** Compression method 8. */
export const DEFLATED = 8
/** Largest value of a 32-bit field; in a size or offset it means "see the Zip64 record". */
export const MAX_32 = 0xffffffff
