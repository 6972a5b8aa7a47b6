import type { Bytes } from '@xcom/core'
import { Deflate, type DeflateOptions, Inflate } from 'fflate'
import { EMPTY } from './bytes.ts'

/**
 * Raw DEFLATE (RFC 1951) compression in JavaScript (fflate). Input is handed to fflate in fixed 64 KiB slices of the
 * stream, whatever the caller's chunking, so the output depends only on the data: whole-buffer and streaming
 * compression give the same bytes.
 */
export class PortableDeflater {
  static readonly SLICE = 64 * 1024
  private readonly deflate: Deflate
  private readonly staged = new Uint8Array(PortableDeflater.SLICE)
  private stagedLength = 0

  constructor(level: number, emit: (chunk: Bytes) => void) {
    this.deflate = new Deflate({ level: level as DeflateOptions['level'] }, (chunk) => emit(chunk))
  }

  push(chunk: Bytes): void {
    const slice = PortableDeflater.SLICE
    let offset = 0
    if (this.stagedLength > 0) {
      offset = Math.min(slice - this.stagedLength, chunk.byteLength)
      this.staged.set(chunk.subarray(0, offset), this.stagedLength)
      this.stagedLength += offset
      if (this.stagedLength < slice) return
      this.deflate.push(this.staged)
      this.stagedLength = 0
    }
    for (; chunk.byteLength - offset >= slice; offset += slice)
      this.deflate.push(chunk.subarray(offset, offset + slice))
    this.staged.set(chunk.subarray(offset))
    this.stagedLength = chunk.byteLength - offset
  }

  finish(): void {
    this.deflate.push(this.staged.subarray(0, this.stagedLength), true)
  }
}

/** The parts of fflate's Inflate state that say where the DEFLATE stream ended (fflate's own Gunzip reads them). */
interface InflateState {
  /** Unconsumed input, starting at the byte that holds bit `s.p`. */
  p: Bytes
  /** `f`: the final block has started; `l`: a block is still open; `p`: bit position in `p`. */
  s: { f?: number; l?: unknown; p?: number }
}

/**
 * Raw DEFLATE decompression in JavaScript (fflate) that knows where the compressed stream ends, so that a container
 * (gzip, zlib, zip) can read its trailer and refuse what follows.
 */
export class PortableInflater {
  private readonly inflate: Inflate
  private readonly state: InflateState

  constructor(emit: (chunk: Bytes) => void) {
    this.inflate = new Inflate((chunk) => emit(chunk))
    const state = this.inflate as unknown as Partial<InflateState>
    if (typeof state.s !== 'object' || !(state.p instanceof Uint8Array)) {
      throw new Error('this fflate version keeps its inflate state differently; use fflate 0.8')
    }
    this.state = state as InflateState
  }

  /** Whether the final DEFLATE block has been read completely. */
  get done(): boolean {
    return this.state.s.f === 1 && !this.state.s.l
  }

  /**
   * Feeds compressed bytes. Returns `undefined` while the stream goes on, or, once it has ended, the input bytes that
   * follow it (possibly none). Throws fflate's error on invalid data.
   */
  push(chunk: Bytes): Bytes | undefined {
    if (chunk.byteLength > 0) this.inflate.push(chunk)
    if (!this.done) return undefined
    const { p, s } = this.state
    const rest = p.subarray(((s.p ?? 0) + 7) >> 3)
    return rest.byteLength === 0 ? EMPTY : rest
  }
}
