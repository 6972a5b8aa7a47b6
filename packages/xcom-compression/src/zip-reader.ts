import type { Bytes } from '@xcom/core'
import { concatBytes } from '@xcom/core/adapter'
import { EMPTY, HeldBytes, u16, u32, u64 } from './bytes.ts'
import type { Checksum } from './checksum.ts'
import type { Failures } from './errors.ts'
import type { Sink } from './pipeline.ts'
import { PortableInflater } from './portable.ts'
import { DEFLATED, FLAG_DATA_DESCRIPTOR, MAX_32, SIGNATURE } from './zip-format.ts'

const FLAG_ENCRYPTED = 0x1
const STORED = 0
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
export class ZipReader {
  private readonly sink: Sink
  private readonly failures: Failures
  private readonly crc32: Checksum
  private state: 'local' | 'data' | 'descriptor' | 'tail' = 'local'
  private readonly held = new HeldBytes()
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
        u32(this.tail, at) !== SIGNATURE.endOfCentralDirectory ||
        at + 22 + u16(this.tail, at + 20) !== this.tail.length
      ) {
        continue
      }
      // The central directory ends where the end record starts, or, in Zip64 archives, where the Zip64 end record
      // (found through its locator, just before) starts. Sizes too large for this record (0xffffffff) are not checked.
      const size = u32(this.tail, at + 12)
      const offset = u32(this.tail, at + 16)
      const zip64 = at >= 20 && u32(this.tail, at - 20) === SIGNATURE.zip64EndLocator
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
        const joined = concatBytes([this.tail, input])
        this.tail = joined.length > MAX_END_RECORD ? joined.slice(joined.length - MAX_END_RECORD) : joined
        return EMPTY
      }
    }
  }

  private readLocalHeader(input: Bytes): Bytes {
    const data = this.held.gather(input, (d) => (d.length < 30 ? 30 : 30 + u16(d, 26) + u16(d, 28)))
    if (data === undefined) {
      if (this.held.bytes.length >= 4) this.checkLocalSignature(this.held.bytes)
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
    if (signature === SIGNATURE.localHeader) return
    throw this.failures.corrupt(
      signature === SIGNATURE.centralHeader || signature === SIGNATURE.endOfCentralDirectory
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
    const data = this.held.join(input)
    const length = this.entry!.zip64 ? 24 : 16
    let from = 0
    for (;;) {
      const at = findDescriptorSignature(data, from)
      const end = at < 0 ? Math.max(from, data.length - 3) : at
      this.storedData(data.subarray(from, end))
      if (at < 0) {
        this.held.keep(data.subarray(end))
        return EMPTY
      }
      if (data.length - at < length) {
        this.held.keep(data.subarray(at))
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
    const lengthOf = (d: Bytes) =>
      d.length < 4 ? 4 : (u32(d, 0) === SIGNATURE.dataDescriptor ? 4 : 0) + body
    const data = this.held.gather(input, lengthOf)
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
