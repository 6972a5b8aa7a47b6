import type { Bytes, XComError } from '@xcom/core'
import { EMPTY, u32 } from './bytes.ts'
import type { Failures } from './errors.ts'

/** A piece of one zstd frame, in input order; `frameEnd` marks the piece that completes its frame. */
export interface FramePiece {
  bytes: Bytes
  frameEnd: boolean
}

const FRAME_MAGIC = 0xfd2fb528
/** Skippable frames use the 16 magic numbers 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC = 0x184d2a50
const SKIPPABLE_MASK = 0xfffffff0
const RESERVED_BLOCK = 3
const RLE_BLOCK = 1

type Step = 'magic' | 'header' | 'blockHeader' | 'block' | 'checksum' | 'skippableSize' | 'skippable'

/**
 * Splits a zstd stream (RFC 8878 section 3.1: frames one after another) into its frames, as `zstd -d` reads it:
 * zstd frames are handed on piece by piece, skippable frames are dropped, and anything else is `E_CORRUPT`. It reads
 * only the frame and block headers (the sizes), never the compressed data, so it holds at most 14 bytes whatever the
 * input; the decoder behind it checks the content.
 */
export class ZstdFrameReader {
  private readonly failures: Failures
  private input: Bytes = EMPTY
  private at = 0
  private step: Step = 'magic'
  /** The fixed-size field being read (a magic number, a frame or block header, a size or a checksum). */
  private readonly field = new Uint8Array(14)
  private fieldLength = 0
  private fieldSize = 4
  /** Bytes left in the current block or skippable frame. */
  private left = 0
  private hasChecksum = false
  private lastBlock = false
  private frames = 0

  constructor(failures: Failures) {
    this.failures = failures
  }

  /** Adds input. Call {@link ZstdFrameReader.next} until it returns `undefined` before pushing more. */
  push(chunk: Bytes): void {
    this.input = chunk
    this.at = 0
  }

  /**
   * The next piece of a zstd frame in the input pushed so far, `undefined` when all of it has been read.
   * @throws XComError `E_CORRUPT` at bytes that are neither a zstd frame nor a skippable frame.
   */
  next(): FramePiece | undefined {
    const inFrame = this.step !== 'magic' && this.step !== 'skippableSize' && this.step !== 'skippable'
    let start = inFrame ? this.at : -1
    for (;;) {
      if (this.step === 'block' || this.step === 'skippable') {
        const take = Math.min(this.left, this.input.byteLength - this.at)
        this.at += take
        this.left -= take
        if (this.left > 0) break
        if (this.step === 'skippable') this.expect('magic', 4)
        else if (!this.lastBlock) this.expect('blockHeader', 3)
        else if (this.hasChecksum) this.expect('checksum', 4)
        else return this.endFrame(start)
        continue
      }
      if (this.at >= this.input.byteLength) break
      const take = Math.min(this.fieldSize - this.fieldLength, this.input.byteLength - this.at)
      this.field.set(this.input.subarray(this.at, this.at + take), this.fieldLength)
      this.fieldLength += take
      this.at += take
      if (this.fieldLength < this.fieldSize) break
      switch (this.step) {
        case 'magic': {
          const magic = u32(this.field, 0)
          if ((magic & SKIPPABLE_MASK) >>> 0 !== SKIPPABLE_MAGIC && magic !== FRAME_MAGIC)
            throw this.notAFrame()
          this.frames++
          if (magic !== FRAME_MAGIC) {
            this.expect('skippableSize', 4)
            break
          }
          // A magic number split across chunks is handed on from its copy; the rest of the frame from the input.
          const split = take < 4 ? this.field.slice(0, 4) : undefined
          this.expect('header', 1)
          if (split !== undefined) return { bytes: split, frameEnd: false }
          start = this.at - 4
          break
        }
        case 'header':
          if (this.fieldSize === 1) this.fieldSize = this.headerSize(this.field[0]!)
          if (this.fieldLength === this.fieldSize) this.expect('blockHeader', 3)
          break
        case 'blockHeader': {
          const header = this.field[0]! | (this.field[1]! << 8) | (this.field[2]! << 16)
          const type = (header >> 1) & 3
          if (type === RESERVED_BLOCK) throw this.failures.corrupt('a zstd block has the reserved block type')
          this.lastBlock = (header & 1) === 1
          this.step = 'block'
          this.left = type === RLE_BLOCK ? 1 : header >>> 3
          break
        }
        case 'checksum':
          return this.endFrame(start)
        case 'skippableSize':
          this.step = 'skippable'
          this.left = u32(this.field, 0)
          break
      }
    }
    return start >= 0 && this.at > start
      ? { bytes: this.input.subarray(start, this.at), frameEnd: false }
      : undefined
  }

  /**
   * The input is complete.
   * @throws XComError `E_CORRUPT` when it was empty or ended inside a frame.
   */
  finish(): void {
    if (this.step === 'magic' && this.fieldLength === 0) {
      if (this.frames === 0) throw this.failures.corrupt('the data is empty')
      return
    }
    if (this.step === 'magic') throw this.notAFrame()
    const skippable = this.step === 'skippableSize' || this.step === 'skippable'
    throw this.failures.corrupt(`the data ends inside a ${skippable ? 'skippable ' : ''}frame`)
  }

  private expect(step: Step, size: number): void {
    this.step = step
    this.fieldSize = size
    this.fieldLength = 0
  }

  /** Frame header size from its descriptor byte (RFC 8878 3.1.1.1). */
  private headerSize(descriptor: number): number {
    if (descriptor & 0x08) throw this.failures.corrupt('a zstd frame header has its reserved bit set')
    const singleSegment = (descriptor >> 5) & 1
    this.hasChecksum = (descriptor & 0x04) !== 0
    const contentSize = [singleSegment, 2, 4, 8][descriptor >> 6]!
    const dictionaryId = [0, 1, 2, 4][descriptor & 3]!
    return 1 + (singleSegment ? 0 : 1) + dictionaryId + contentSize
  }

  private endFrame(start: number): FramePiece {
    this.expect('magic', 4)
    return { bytes: this.input.subarray(Math.max(start, 0), this.at), frameEnd: true }
  }

  private notAFrame(): XComError {
    return this.failures.corrupt(
      this.frames === 0
        ? 'it does not start with a zstd frame (magic number 28 b5 2f fd)'
        : 'there is data after the last frame that is not a zstd frame',
    )
  }
}
