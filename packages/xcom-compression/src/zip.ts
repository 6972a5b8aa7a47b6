import type { Bytes } from '@xcom/core'
import { XComError } from '@xcom/core'
import { concat, EMPTY, put16, put32, u16, u32, u64 } from './bytes.ts'
import { type Checksum, crc32For } from './checksum.ts'
import { checkLevel, defineCodec, ENGINE_CHUNK, INFLATE_SLICE } from './codec.ts'
import { badOption, type Failures } from './errors.ts'
import { type EncodeFrame, FramedEncoder } from './framing.ts'
import { EngineTransformer, type Sink, SlicedTransformer, type Transformer } from './pipeline.ts'
import { PortableDeflater, PortableInflater } from './portable.ts'
import { resolveNative } from './runtime.ts'
import type { CompressionCodec, Implementation } from './types.ts'

/** Options of {@link zip}. */
export interface ZipOptions {
  /** 0 (store only) to 9 (smallest output, slowest). @default 6 */
  level?: number
  /** The name of the single entry, as `unzip` extracts it. UTF-8; must not end with `/`. @default 'data' */
  entryName?: string
  /**
   * Which implementation to run on; see {@link Implementation}. `native` compresses with node:zlib and checks CRC-32
   * natively; reading always inflates with fflate, which reports where the compressed data ends.
   * @default 'auto'
   */
  implementation?: Implementation
}

const LOCAL_HEADER = 0x04034b50
const DATA_DESCRIPTOR = 0x08074b50
const CENTRAL_HEADER = 0x02014b50
const END_OF_CENTRAL_DIRECTORY = 0x06054b50
const ZIP64_END_LOCATOR = 0x07064b50
const FLAG_ENCRYPTED = 0x1
const FLAG_DATA_DESCRIPTOR = 0x8
const FLAG_UTF8 = 0x800
const STORED = 0
const DEFLATED = 8
const MAX_32 = 0xffffffff
/** 1980-01-01 00:00, the earliest MS-DOS date: a fixed timestamp keeps output reproducible. */
const DOS_DATE_1980 = (0 << 9) | (1 << 5) | 1
/** A regular file with mode rw-r--r--, in the high half of "external attributes" (version made by: Unix). */
const UNIX_REGULAR_FILE = 0o100644 * 0x10000
/** The end-of-central-directory record is 22 bytes plus a comment of up to 65535 bytes. */
const MAX_END_RECORD = 22 + 0xffff
const METHOD_NAMES: Record<number, string> = {
  9: 'deflate64',
  12: 'bzip2',
  14: 'lzma',
  93: 'zstd',
  95: 'xz',
  98: 'ppmd',
}

/**
 * A single-entry zip archive, suffix `.zip`, that `unzip`, Python's zipfile (Airflow's `compression = zip`) and
 * every archive tool read. Writing is streamed: the entry is deflated and followed by a data descriptor (general
 * purpose flag 3) carrying its CRC-32 and sizes, then the central directory; `unzip -t` accepts it. Archives are
 * limited to 4 GiB (no Zip64 writing). Reading takes the first file entry (skipping directory entries) of an
 * archive from any tool, stored or deflated, with or without data descriptors, Zip64 sizes included; it verifies the
 * CRC-32 and sizes and requires the end-of-central-directory record at the very end.
 * @throws XComError `E_CONFIG` for a level outside 0-9, a bad entry name or an unusable `implementation`.
 */
export function zip(options: ZipOptions = {}): CompressionCodec {
  const level = checkLevel('zip', options.level ?? 6, 0, 9)
  const name = entryNameBytes(options.entryName ?? 'data')
  const native = resolveNative(options.implementation, 'zip')
  const crc32 = crc32For(native)
  const rawDeflate = (sink: Sink, failures: Failures): Transformer => {
    const toError = (error: unknown) => failures.fromEncoder(error)
    return native !== undefined
      ? new EngineTransformer(
          native.createDeflateRaw({ level, chunkSize: ENGINE_CHUNK }),
          sink,
          toError,
          false,
        )
      : new SlicedTransformer(
          new PortableDeflater(level, (chunk) => sink.push(chunk)),
          sink,
          toError,
          PortableDeflater.SLICE,
        )
  }
  return defineCodec({
    name: 'zip',
    suffix: '.zip',
    implementation: native !== undefined ? 'native' : 'portable',
    encoder: (sink, failures) =>
      new FramedEncoder(zipFrame(name, crc32), sink, (inner) => rawDeflate(inner, failures)),
    decoder: (sink, failures) =>
      new SlicedTransformer(
        new ZipReader(sink, failures, crc32),
        sink,
        (error) => failures.fromDecoder(error),
        INFLATE_SLICE,
      ),
  })
}

function entryNameBytes(entryName: string): Bytes {
  const bytes = new TextEncoder().encode(entryName)
  if (
    typeof entryName !== 'string' ||
    bytes.length === 0 ||
    bytes.length > 0xffff ||
    entryName.endsWith('/')
  ) {
    throw badOption(
      'zip entryName',
      'expected a non-empty name of at most 65535 UTF-8 bytes, not ending with "/"',
    )
  }
  return bytes
}

/** Local header, then (after the deflated data) data descriptor, central directory and end record. */
function zipFrame(name: Bytes, crc32: Checksum): EncodeFrame {
  const flags = FLAG_DATA_DESCRIPTOR | (name.some((byte) => byte > 0x7f) ? FLAG_UTF8 : 0)
  const header = new Uint8Array(30 + name.length)
  put32(header, 0, LOCAL_HEADER)
  put16(header, 4, 20) // version needed to extract: 2.0 (deflate)
  put16(header, 6, flags)
  put16(header, 8, DEFLATED)
  put16(header, 12, DOS_DATE_1980) // time 00:00 at offset 10; CRC-32 and sizes (14-25) are in the descriptor
  put16(header, 26, name.length)
  header.set(name, 30)
  return {
    header,
    checksum: crc32,
    initialCheck: 0,
    trailer({ check, size, compressedSize }) {
      const centralOffset = header.length + compressedSize + 16
      if (size > MAX_32 || centralOffset > MAX_32) {
        throw new XComError(
          'E_TOO_LARGE',
          `zip() writes archives of up to 4 GiB (it does not write Zip64), and this value is ${size} bytes; use ` +
            'gzip() or zstd() for values this large.',
        )
      }
      const out = new Uint8Array(16 + 46 + name.length + 22)
      put32(out, 0, DATA_DESCRIPTOR)
      put32(out, 4, check)
      put32(out, 8, compressedSize)
      put32(out, 12, size)
      const c = 16
      put32(out, c, CENTRAL_HEADER)
      put16(out, c + 4, (3 << 8) | 20) // made by Unix, zip 2.0
      out.set(header.subarray(4, 16), c + 6) // version needed, flags, method, time, date
      put32(out, c + 16, check)
      put32(out, c + 20, compressedSize)
      put32(out, c + 24, size)
      put16(out, c + 28, name.length) // extra, comment, disk, internal attributes: 0
      put32(out, c + 38, UNIX_REGULAR_FILE) // local header offset: 0
      out.set(name, c + 46)
      const e = c + 46 + name.length
      put32(out, e, END_OF_CENTRAL_DIRECTORY)
      put16(out, e + 8, 1)
      put16(out, e + 10, 1)
      put32(out, e + 12, 46 + name.length)
      put32(out, e + 16, centralOffset)
      return out
    },
  }
}

interface Entry {
  method: number
  /** Sizes and CRC-32 follow the data (general purpose flag 3). */
  descriptor: boolean
  /** A Zip64 extra field is present: descriptor sizes are 8 bytes. */
  zip64: boolean
  crc: number
  compressedSize: number
  size: number
  directory: boolean
}

/**
 * Reads the first file entry of a zip archive as its bytes arrive, front to back (the central directory comes last,
 * so it is not needed). Where the data ends: the recorded size, or for a data descriptor the end of the DEFLATE
 * stream, or for a stored entry the first descriptor whose signature, CRC-32 and sizes all match.
 */
class ZipReader {
  private readonly sink: Sink
  private readonly failures: Failures
  private readonly crc32: Checksum
  private state: 'local' | 'data' | 'descriptor' | 'tail' = 'local'
  private buffer: Bytes = EMPTY
  private entry: Entry | undefined
  private inflater: PortableInflater | undefined
  private fed = 0
  private produced = 0
  private crc = 0
  private tail: Bytes = EMPTY
  private total = 0

  constructor(sink: Sink, failures: Failures, crc32: Checksum) {
    this.sink = sink
    this.failures = failures
    this.crc32 = crc32
  }

  push(chunk: Bytes): void {
    this.total += chunk.byteLength
    let input = chunk
    while (input.byteLength > 0) input = this.step(input)
  }

  finish(): void {
    if (this.total === 0) throw this.failures.corrupt('the data is empty')
    if (this.state !== 'tail') {
      const where = { local: 'a local file header', data: 'the entry data', descriptor: 'a data descriptor' }
      throw this.failures.corrupt(`the data ends inside ${where[this.state]}`)
    }
    for (let at = this.tail.length - 22; at >= 0; at--) {
      if (
        u32(this.tail, at) !== END_OF_CENTRAL_DIRECTORY ||
        at + 22 + u16(this.tail, at + 20) !== this.tail.length
      ) {
        continue
      }
      // The central directory ends where the end record starts, or, in Zip64 archives, where the Zip64 end record
      // (found through its locator, just before) starts. Sizes too large for this record (0xffffffff) are not checked.
      const size = u32(this.tail, at + 12)
      const offset = u32(this.tail, at + 16)
      const zip64 = at >= 20 && u32(this.tail, at - 20) === ZIP64_END_LOCATOR
      const directoryEnd = zip64 ? u64(this.tail, at - 12) : this.total - this.tail.length + at
      if (offset === MAX_32 || size === MAX_32 || offset + size === directoryEnd) return
    }
    throw this.failures.corrupt(
      'the end-of-central-directory record is not at the end of the archive: it is truncated, or other data follows',
    )
  }

  private step(input: Bytes): Bytes {
    switch (this.state) {
      case 'local':
        return this.readLocalHeader(input)
      case 'data':
        return this.readData(input)
      case 'descriptor':
        return this.readDescriptor(input)
      case 'tail': {
        const joined = concat([this.tail, input])
        this.tail = joined.length > MAX_END_RECORD ? joined.slice(joined.length - MAX_END_RECORD) : joined
        return EMPTY
      }
    }
  }

  /** Joins held bytes with the new input; returns `undefined` (holding them) while fewer than `need` are there. */
  private gather(input: Bytes, need: (data: Bytes) => number): Bytes | undefined {
    const data = this.buffer.byteLength === 0 ? input : concat([this.buffer, input])
    if (data.byteLength >= need(data)) {
      this.buffer = EMPTY
      return data
    }
    this.buffer = data === input ? input.slice() : data
    return undefined
  }

  private readLocalHeader(input: Bytes): Bytes {
    const data = this.gather(input, (d) => (d.length < 30 ? 30 : 30 + u16(d, 26) + u16(d, 28)))
    if (data === undefined) {
      if (this.buffer.length >= 4) this.checkLocalSignature(this.buffer)
      return EMPTY
    }
    this.checkLocalSignature(data)
    const flags = u16(data, 6)
    const method = u16(data, 8)
    const nameLength = u16(data, 26)
    const headerLength = 30 + nameLength + u16(data, 28)
    if (flags & FLAG_ENCRYPTED)
      throw this.failures.unsupported('its entry is encrypted, which is not supported')
    if (method !== STORED && method !== DEFLATED) {
      const known = METHOD_NAMES[method]
      throw this.failures.unsupported(
        `its entry uses compression method ${method}${known ? ` (${known})` : ''}; only stored and deflate are ` +
          'supported, so re-create the archive with deflate',
      )
    }
    let size = u32(data, 22)
    let compressedSize = u32(data, 18)
    const zip64 = extraField(data.subarray(30 + nameLength, headerLength), 0x0001)
    if (zip64 !== undefined) {
      let at = 0
      const next = (): number => {
        if (zip64.length < at + 8) throw this.failures.corrupt('its Zip64 extra field is too short')
        at += 8
        return u64(zip64, at - 8)
      }
      if (size === MAX_32) size = next()
      if (compressedSize === MAX_32) compressedSize = next()
    }
    this.entry = {
      method,
      descriptor: (flags & FLAG_DATA_DESCRIPTOR) !== 0,
      zip64: zip64 !== undefined,
      crc: u32(data, 14),
      compressedSize,
      size,
      directory: nameLength > 0 && data[30 + nameLength - 1] === 0x2f,
    }
    this.fed = 0
    this.produced = 0
    this.crc = 0
    this.inflater = method === DEFLATED ? new PortableInflater((out) => this.output(out)) : undefined
    this.state = 'data'
    return data.subarray(headerLength)
  }

  private checkLocalSignature(data: Bytes): void {
    const signature = u32(data, 0)
    if (signature === LOCAL_HEADER) return
    throw this.failures.corrupt(
      signature === CENTRAL_HEADER || signature === END_OF_CENTRAL_DIRECTORY
        ? 'the archive has no file entry'
        : 'it does not start with a zip local file header',
    )
  }

  private output(out: Bytes): void {
    this.crc = this.crc32(out, this.crc)
    this.produced += out.byteLength
    this.sink.push(out)
  }

  private readData(input: Bytes): Bytes {
    const entry = this.entry!
    if (!entry.descriptor) {
      const take = Math.min(input.byteLength, entry.compressedSize - this.fed)
      const part = input.subarray(0, take)
      this.fed += take
      if (this.inflater === undefined) this.output(part)
      else {
        const rest = this.inflater.push(part)
        if (rest !== undefined && (rest.byteLength > 0 || this.fed < entry.compressedSize)) {
          throw this.failures.corrupt('the entry ends before its recorded compressed size')
        }
      }
      if (this.fed < entry.compressedSize) return EMPTY
      if (this.inflater !== undefined && !this.inflater.done) {
        throw this.failures.corrupt('the entry is longer than its recorded compressed size')
      }
      this.verify(entry.crc, entry.compressedSize, entry.size)
      return input.subarray(take)
    }
    if (this.inflater !== undefined) {
      const rest = this.inflater.push(input)
      this.fed += input.byteLength - (rest?.byteLength ?? 0)
      if (rest === undefined) return EMPTY
      this.state = 'descriptor'
      return rest
    }
    return this.scanStored(input)
  }

  /** A stored entry of unknown size: its data runs up to the first data descriptor that matches it. */
  private scanStored(input: Bytes): Bytes {
    const data = this.buffer.byteLength === 0 ? input : concat([this.buffer, input])
    this.buffer = EMPTY
    const length = this.entry!.zip64 ? 24 : 16
    let from = 0
    for (;;) {
      const at = findDescriptorSignature(data, from)
      const end = at < 0 ? Math.max(from, data.length - 3) : at
      this.storedData(data.subarray(from, end))
      if (at < 0) {
        this.buffer = data.slice(end)
        return EMPTY
      }
      if (data.length - at < length) {
        this.buffer = data.slice(at)
        return EMPTY
      }
      if (this.descriptorMatches(data.subarray(at + 4))) {
        this.state = 'descriptor'
        return data.subarray(at)
      }
      this.storedData(data.subarray(at, at + 1))
      from = at + 1
    }
  }

  private storedData(part: Bytes): void {
    this.fed += part.byteLength
    this.output(part)
  }

  /** Whether `fields` (a descriptor after its signature) records what was read. */
  private descriptorMatches(fields: Bytes): boolean {
    const zip64 = this.entry!.zip64
    const compressedSize = zip64 ? u64(fields, 4) : u32(fields, 4)
    const size = zip64 ? u64(fields, 12) : u32(fields, 8)
    const wrap = (n: number) => (zip64 ? n : n % 2 ** 32)
    return u32(fields, 0) === this.crc && compressedSize === wrap(this.fed) && size === wrap(this.produced)
  }

  private readDescriptor(input: Bytes): Bytes {
    const body = this.entry!.zip64 ? 20 : 12
    // The descriptor's own signature is optional in the format.
    const lengthOf = (d: Bytes) => (d.length < 4 ? 4 : (u32(d, 0) === DATA_DESCRIPTOR ? 4 : 0) + body)
    const data = this.gather(input, lengthOf)
    if (data === undefined) return EMPTY
    const length = lengthOf(data)
    if (!this.descriptorMatches(data.subarray(length - body))) {
      throw this.failures.corrupt('the CRC-32 or sizes in the data descriptor do not match the entry read')
    }
    this.endEntry()
    return data.subarray(length)
  }

  private verify(crc: number, compressedSize: number, size: number): void {
    if (this.crc !== crc)
      throw this.failures.corrupt('the CRC-32 of the entry does not match the one recorded')
    if (this.produced !== size || this.fed !== compressedSize) {
      throw this.failures.corrupt('the size of the entry does not match the one recorded')
    }
    this.endEntry()
  }

  private endEntry(): void {
    // A directory entry carries nothing: the value is the next entry.
    const skip = this.entry!.directory && this.produced === 0
    this.entry = undefined
    this.inflater = undefined
    this.state = skip ? 'local' : 'tail'
  }
}

function findDescriptorSignature(data: Bytes, from: number): number {
  for (let at = data.indexOf(0x50, from); at >= 0 && at + 3 < data.length; at = data.indexOf(0x50, at + 1)) {
    if (data[at + 1] === 0x4b && data[at + 2] === 0x07 && data[at + 3] === 0x08) return at
  }
  return -1
}

function extraField(extra: Bytes, id: number): Bytes | undefined {
  for (let at = 0; at + 4 <= extra.length; at += 4 + u16(extra, at + 2)) {
    if (u16(extra, at) === id) return extra.subarray(at + 4, at + 4 + u16(extra, at + 2))
  }
  return undefined
}
