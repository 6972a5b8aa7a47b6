import type { Bytes } from '@xcom/core'
import { XComError } from '@xcom/core'

/** A shared empty array. */
export const EMPTY: Bytes = new Uint8Array(0)

/** The chunks joined into one array (the chunk itself when there is only one). */
export function concat(chunks: readonly Bytes[]): Bytes {
  if (chunks.length === 1) return chunks[0]!
  let total = 0
  for (const chunk of chunks) total += chunk.byteLength
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/** A Uint8Array over the same memory as `view` (a Node Buffer, a DataView, any typed array). */
export function asBytes(view: unknown, what: string): Bytes {
  if (view instanceof Uint8Array) {
    return view.constructor === Uint8Array
      ? view
      : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
  }
  if (ArrayBuffer.isView(view)) return new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
  const kind = view === null ? 'null' : typeof view === 'object' ? view.constructor?.name : typeof view
  throw new XComError(
    'E_CONFIG',
    `${what} accepts Uint8Array data, got ${kind}; encode text with TextEncoder first.`,
  )
}

/** Little-endian unsigned 16-bit integer at `offset`. */
export function u16(data: Bytes, offset: number): number {
  return data[offset]! | (data[offset + 1]! << 8)
}

/** Little-endian unsigned 32-bit integer at `offset`. */
export function u32(data: Bytes, offset: number): number {
  return (
    (data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16) | (data[offset + 3]! << 24)) >>> 0
  )
}

/** Little-endian unsigned 64-bit integer at `offset`, as a number (exact up to 2^53). */
export function u64(data: Bytes, offset: number): number {
  return u32(data, offset) + u32(data, offset + 4) * 2 ** 32
}

/** Writes `value` as little-endian unsigned 16-bit at `offset`. */
export function put16(data: Bytes, offset: number, value: number): void {
  data[offset] = value & 0xff
  data[offset + 1] = (value >>> 8) & 0xff
}

/** Writes `value` as little-endian unsigned 32-bit at `offset`. */
export function put32(data: Bytes, offset: number, value: number): void {
  put16(data, offset, value & 0xffff)
  put16(data, offset + 2, value >>> 16)
}
