import type { Bytes } from '@xcom/core'
import { EMPTY, HeldBytes } from './bytes.ts'
import type { Checksum } from './checksum.ts'
import { defineCodec, rawDeflater, slicedDecoder } from './codec.ts'
import type { Failures } from './errors.ts'
import type { Sink, Transformer, TransformerFactory } from './pipeline.ts'
import { PortableInflater } from './portable.ts'
import type { CompressionCodec } from './types.ts'

/** What a framed format writes around raw DEFLATE data. */
export interface EncodeFrame {
  header: Bytes
  checksum: Checksum
  initialCheck: number
  /** The bytes after the compressed data. Throws `E_TOO_LARGE` when the sizes do not fit the format. */
  trailer(totals: { check: number; size: number; compressedSize: number }): Bytes
}

/**
 * Writes a framed format (gzip, zlib, zip): the header, the raw DEFLATE output of `inner` (native or portable), then
 * the trailer with the checksum and sizes of what went through.
 */
export class FramedEncoder implements Transformer {
  private readonly frame: EncodeFrame
  private readonly sink: Sink
  private readonly inner: Transformer
  private check: number
  private size = 0
  private compressedSize = 0

  constructor(frame: EncodeFrame, sink: Sink, inner: (sink: Sink) => Transformer) {
    this.frame = frame
    this.sink = sink
    this.check = frame.initialCheck
    sink.push(frame.header)
    this.inner = inner({
      push: (chunk) => {
        this.compressedSize += chunk.byteLength
        sink.push(chunk)
      },
      get wantsMore() {
        return sink.wantsMore
      },
      waitForDemand: () => sink.waitForDemand(),
    })
  }

  write(chunk: Bytes): Promise<void> | void {
    this.check = this.frame.checksum(chunk, this.check)
    this.size += chunk.byteLength
    return this.inner.write(chunk)
  }

  async end(): Promise<void> {
    await this.inner.end()
    this.sink.push(
      this.frame.trailer({ check: this.check, size: this.size, compressedSize: this.compressedSize }),
    )
  }

  destroy(reason: unknown): void {
    this.inner.destroy(reason)
  }
}

/** Runs a {@link FramedEncoder}: `frame` around the raw DEFLATE output of `deflater`. */
export function framedEncoder(frame: EncodeFrame, deflater: TransformerFactory): TransformerFactory {
  return (sink, failures) => new FramedEncoder(frame, sink, (inner) => deflater(inner, failures))
}

/** How a framed format reads: its header, its trailer, and whether members may follow one another. */
export interface DecodeFrame {
  /**
   * The header's length when `data` starts with a complete header, `undefined` when more bytes are needed.
   * @throws XComError `E_CORRUPT` (or `E_UNKNOWN_CODEC`) when `data` cannot start a valid header.
   */
  headerLength(data: Bytes, failures: Failures): number | undefined
  /** Longest header accepted (a header that never ends must not hold memory forever). */
  maxHeaderLength: number
  trailerLength: number
  checksum: Checksum
  initialCheck: number
  /** @throws XComError `E_CORRUPT` when the trailer does not match what was decompressed. */
  verifyTrailer(trailer: Bytes, totals: { check: number; size: number }, failures: Failures): void
  /** Whether another member may follow (gzip: yes, zlib: no). */
  multiMember: boolean
}

/**
 * Reads a framed format in JavaScript, member by member: header, raw DEFLATE (fflate), trailer. The checksum and
 * size in each trailer are verified; data after the last member, and input that ends inside one, are `E_CORRUPT`.
 */
export class FramedDecoder {
  private readonly frame: DecodeFrame
  private readonly sink: Sink
  private readonly failures: Failures
  private state: 'header' | 'body' | 'trailer' | 'done' = 'header'
  private readonly held = new HeldBytes()
  private inflater: PortableInflater | undefined
  private check = 0
  private size = 0
  private members = 0

  constructor(frame: DecodeFrame, sink: Sink, failures: Failures) {
    this.frame = frame
    this.sink = sink
    this.failures = failures
  }

  push(chunk: Bytes): void {
    let input = chunk
    while (input.byteLength > 0) input = this.step(input)
  }

  finish(): void {
    const held = this.held.bytes.byteLength
    if (this.members > 0 && held === 0 && (this.state === 'header' || this.state === 'done')) return
    if (this.members === 0 && this.state === 'header' && held === 0) {
      throw this.failures.corrupt('the data is empty')
    }
    throw this.failures.corrupt(
      `the data ends inside the ${this.state === 'body' ? 'compressed data' : this.state}`,
    )
  }

  /** Consumes some of `input`; returns the rest. */
  private step(input: Bytes): Bytes {
    switch (this.state) {
      case 'header': {
        const data = this.held.join(input)
        const length = this.frame.headerLength(data, this.failures)
        if (length === undefined) {
          if (data.byteLength > this.frame.maxHeaderLength)
            throw this.failures.corrupt('the header is too long')
          this.held.keep(data)
          return EMPTY
        }
        this.state = 'body'
        this.members++
        this.check = this.frame.initialCheck
        this.size = 0
        this.inflater = new PortableInflater((out) => {
          this.check = this.frame.checksum(out, this.check)
          this.size += out.byteLength
          this.sink.push(out)
        })
        return data.subarray(length)
      }
      case 'body': {
        const rest = this.inflater!.push(input)
        if (rest === undefined) return EMPTY
        this.state = 'trailer'
        this.inflater = undefined
        return rest
      }
      case 'trailer': {
        const length = this.frame.trailerLength
        const data = this.held.gather(input, () => length)
        if (data === undefined) return EMPTY
        this.frame.verifyTrailer(
          data.subarray(0, length),
          { check: this.check, size: this.size },
          this.failures,
        )
        this.state = this.frame.multiMember ? 'header' : 'done'
        return data.subarray(length)
      }
      case 'done':
        throw this.failures.corrupt('there is data after the end of the compressed stream')
    }
  }
}

/**
 * A framed DEFLATE codec (gzip, zlib) in JavaScript: fflate's raw DEFLATE at `level` inside `encode`'s frame, read back
 * member by member with `decode`'s.
 */
export function portableFramedCodec(spec: {
  name: string
  suffix: string
  level: number
  encode: EncodeFrame
  decode: DecodeFrame
}): CompressionCodec {
  return defineCodec({
    name: spec.name,
    suffix: spec.suffix,
    implementation: 'portable',
    encoder: framedEncoder(spec.encode, rawDeflater(spec.level, undefined)),
    decoder: slicedDecoder((sink, failures) => new FramedDecoder(spec.decode, sink, failures)),
  })
}
