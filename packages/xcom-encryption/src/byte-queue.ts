import { concatBytes } from '@xcom/core/adapter'

const EMPTY = new Uint8Array(0)

/** Bytes written but not yet used, kept as views of the chunks written (never copied, except by `takeBytes`). */
export class ByteQueue {
  private chunks: Uint8Array[] = []
  private head = 0
  /** Bytes held. */
  length = 0

  /** Appends a chunk (empty ones are dropped), by reference. */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    this.chunks.push(chunk)
    this.length += chunk.byteLength
  }

  /** Removes the first `size` bytes (at most `length`) and returns them as views, in order. */
  take(size: number): Uint8Array[] {
    const taken: Uint8Array[] = []
    let left = size
    while (left > 0) {
      const first = this.chunks[this.head] as Uint8Array
      if (first.byteLength <= left) {
        taken.push(first)
        // Let go of the chunk now: a used entry must not keep its memory alive until the next compaction.
        this.chunks[this.head++] = EMPTY
        left -= first.byteLength
      } else {
        taken.push(first.subarray(0, left))
        this.chunks[this.head] = first.subarray(left)
        left = 0
      }
    }
    this.length -= size
    // Drop used entries in bulk, so many tiny chunks cost linear time, not quadratic.
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
    return taken
  }

  /** Removes the first `size` bytes as one array: a view when they lie in one chunk, else a copy. */
  takeBytes(size: number): Uint8Array {
    const parts = this.take(size)
    return parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts)
  }
}
