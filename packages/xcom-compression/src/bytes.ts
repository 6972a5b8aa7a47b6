import type { Bytes } from '@xcom/core'
import { XComError } from '@xcom/core'
import { concatBytes, plainBytes } from '@xcom/core/adapter'

/** A shared empty array. */
export const EMPTY: Bytes = new Uint8Array(0)

/** A Uint8Array over the same memory as `view` (a Node Buffer, a DataView, any typed array). */
export function asBytes(view: unknown, what: string): Bytes {
  if (view instanceof Uint8Array) return plainBytes(view)
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

/**
 * Input held back between chunks until a whole field (a header, a trailer) has arrived. What it holds is its own: the
 * caller's chunks may be reused once handed on, so held input is copied.
 */
export class HeldBytes {
  private held: Bytes = EMPTY

  /** The bytes held so far. */
  get bytes(): Bytes {
    return this.held
  }

  /** The held bytes followed by `input` (`input` itself when none are held); nothing is held afterwards. */
  join(input: Bytes): Bytes {
    if (this.held.byteLength === 0) return input
    const data = concatBytes([this.held, input])
    this.held = EMPTY
    return data
  }

  /** Holds a copy of `part` for the next input. */
  keep(part: Bytes): void {
    this.held = part.slice()
  }

  /**
   * The held bytes and `input` when they make at least `need(data)` bytes (then nothing is held); otherwise holds them
   * and returns `undefined`.
   */
  gather(input: Bytes, need: (data: Bytes) => number): Bytes | undefined {
    const data = this.join(input)
    if (data.byteLength >= need(data)) return data
    this.held = data === input ? input.slice() : data
    return undefined
  }
}
