import { type ByteSource, type Bytes, type ObjectBody, XComError } from '@xcom/core'
import { allocateBytes, plainBytes, readChunks } from '@xcom/core/adapter'
import { algorithmOf, type Checksum, type ChecksumAlgorithm, createChecksum } from './checksum.ts'

/**
 * Size of the slices a large buffer is cut into: large, so the cost per write vanishes; each slice is hashed while it
 * is being written.
 */
export const SLICE_SIZE = 8 * 1024 * 1024

/**
 * UTF-16 units of JSON text encoded per slice when it is written: slices of at most 768 KiB that stay in the CPU cache
 * while they are hashed and written, and are freed as soon as they are written (no copy of the whole text is made).
 */
export const TEXT_SLICE_UNITS = 256 * 1024

/** A value that goes to object storage as raw bytes: Uint8Array (incl. Buffer), Blob, web stream, async iterable. */
export type BinaryValue = Uint8Array | Blob | ReadableStream<Bytes> | AsyncIterable<Bytes | string>

/** True for the top-level values stored as raw bytes rather than serialized (other typed arrays are serialized). */
export function isBinaryValue(value: unknown): value is BinaryValue {
  if (value instanceof Uint8Array) return true
  if (typeof value !== 'object' || value === null) return false
  if (typeof Blob !== 'undefined' && value instanceof Blob) return true
  if (value instanceof ReadableStream) return true
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
}

/**
 * The chunks of any byte source. Buffers are cut into {@link SLICE_SIZE} views (no copy); string chunks (a Node
 * Readable with an encoding) are taken as UTF-8.
 * @throws XComError `E_NOT_SERIALIZABLE` for a chunk that is neither bytes nor a string.
 */
export async function* chunksOf(source: ByteSource | BinaryValue): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    const bytes = plainBytes(source)
    for (let offset = 0; offset < bytes.byteLength; offset += SLICE_SIZE) {
      yield bytes.subarray(offset, Math.min(offset + SLICE_SIZE, bytes.byteLength))
    }
    return
  }
  const iterable: AsyncIterable<unknown> =
    typeof Blob !== 'undefined' && source instanceof Blob
      ? readChunks(source.stream())
      : source instanceof ReadableStream
        ? readChunks(source)
        : (source as AsyncIterable<unknown>)
  for await (const chunk of iterable) {
    if (chunk instanceof Uint8Array) {
      if (chunk.byteLength > 0) yield plainBytes(chunk)
    } else if (typeof chunk === 'string') {
      if (chunk.length > 0) yield plainBytes(Buffer.from(chunk, 'utf8'))
    } else {
      throw new XComError(
        'E_NOT_SERIALIZABLE',
        `A stream value produced a chunk of type ${chunk === null ? 'null' : typeof chunk}: stream chunks must be Uint8Array (or strings, taken as UTF-8).`,
      )
    }
  }
}

/**
 * The UTF-8 encoding of `text`, in slices of at most `units` UTF-16 units (a surrogate pair is never split), each in
 * its own buffer: the concatenation is exactly `Buffer.from(text, 'utf8')`.
 */
export function* utf8Slices(text: string, units = TEXT_SLICE_UNITS): Generator<Uint8Array> {
  for (let start = 0; start < text.length; ) {
    let end = Math.min(start + units, text.length)
    const last = text.charCodeAt(end - 1)
    if (last >= 0xd800 && last <= 0xdbff && end < text.length) end++
    yield plainBytes(Buffer.from(text.slice(start, end), 'utf8'))
    start = end
  }
}

/** The first chunks of an iterator, until more than `limit` bytes were read or it ended. */
export async function readHead(
  iterator: AsyncIterator<Uint8Array>,
  limit: number,
): Promise<{ chunks: Uint8Array[]; size: number; ended: boolean }> {
  const chunks: Uint8Array[] = []
  let size = 0
  while (size <= limit) {
    const next = await iterator.next()
    if (next.done) return { chunks, size, ended: true }
    chunks.push(next.value)
    size += next.value.byteLength
  }
  return { chunks, size, ended: false }
}

/**
 * Passes chunks through while hashing them; `digest()` gives their total size and checksum once they have all passed.
 * Each chunk is hashed when the consumer asks for the next one, that is once it has started writing this one: hashing
 * overlaps the write of the same bytes, while they are still in the CPU cache.
 * @throws XComError `E_BACKEND` from `digest()` when the consumer stopped before the end (the checksum would be wrong).
 */
export function hashing(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  algorithm: ChecksumAlgorithm,
): {
  chunks: AsyncGenerator<Uint8Array>
  digest(): { storedSize: number; checksum: string }
} {
  const hash = createChecksum(algorithm)
  let size = 0
  let ended = false
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      yield chunk
      hash.update(chunk)
      size += chunk.byteLength
    }
    ended = true
  }
  return {
    chunks: chunks(),
    digest: () => {
      if (!ended) throw new XComError('E_BACKEND', 'The store stopped reading the value before its end.')
      return { storedSize: size, checksum: hash.digest() }
    },
  }
}

/** What a verified read must produce. */
export interface Expected {
  /** Number of bytes. */
  size: number
  /** `<algorithm>:<hex>` of those bytes (see `algorithmOf`). */
  checksum: string
  /** Names the object in errors. */
  uri: string
}

function corrupt(expected: Expected, why: string): XComError {
  return new XComError(
    'E_CORRUPT',
    `The object ${expected.uri} is corrupt: ${why}. It was changed or damaged after it was written; clear this XCom and push it again.`,
    { uri: expected.uri },
  )
}

/**
 * A new checksum of the algorithm `expected.checksum` names.
 * @throws XComError `E_CORRUPT` when that is not a well-formed checksum (the reference or metadata was damaged).
 */
function checksumFor(expected: Expected): Checksum {
  const algorithm = algorithmOf(expected.checksum)
  if (!algorithm) {
    throw corrupt(
      expected,
      `its recorded checksum ${JSON.stringify(expected.checksum.slice(0, 80))} is not crc32:<8 hex digits> or sha256:<64 hex digits>`,
    )
  }
  return createChecksum(algorithm)
}

/** Fails with `E_CORRUPT` when `size` bytes with digest `checksum` are not what was expected. */
export function checkDigest(expected: Expected, size: number, checksum: string): void {
  if (size !== expected.size)
    throw corrupt(expected, `it holds ${size} bytes where ${expected.size} were written`)
  if (checksum !== expected.checksum)
    throw corrupt(expected, `its checksum is ${checksum} where ${expected.checksum} was written`)
}

/**
 * Passes bytes through while hashing them; errors the stream with `E_CORRUPT` when it carries more bytes than
 * expected, or, at its end, when the size or checksum differs. A consumer must not trust the bytes of such a stream
 * before it ends cleanly. `failed` is called once when it does.
 */
export function verifying(expected: Expected, failed?: () => void): TransformStream<Uint8Array, Uint8Array> {
  const tally = verifier(expected)
  const guarded = (step: () => void) => {
    try {
      step()
    } catch (error) {
      failed?.()
      throw error
    }
  }
  return new TransformStream({
    transform(chunk, controller) {
      guarded(() => tally.take(chunk))
      controller.enqueue(chunk)
    },
    flush: () => guarded(() => tally.check()),
  })
}

/**
 * Counts and hashes the parts of a read as they come: `take` fails with `E_CORRUPT` as soon as they exceed the
 * expected size, `check` at the end when size or checksum differ.
 */
function verifier(expected: Expected): {
  take(part: Uint8Array): void
  readonly size: number
  check(): void
} {
  const hash = checksumFor(expected)
  let size = 0
  return {
    take(part) {
      if (size + part.byteLength > expected.size)
        throw corrupt(expected, `it holds more than the ${expected.size} bytes written`)
      hash.update(part)
      size += part.byteLength
    },
    get size() {
      return size
    },
    check: () => checkDigest(expected, size, hash.digest()),
  }
}

/**
 * Reads a body of exactly `expected.size` bytes into one buffer, hashing it as it arrives (each part while the next is
 * read, when the body has `bytesObserved`), and returns it only once size and checksum match.
 * @throws XComError `E_CORRUPT` on a size or checksum mismatch.
 */
export async function readVerified(body: ObjectBody, expected: Expected): Promise<Uint8Array> {
  const tally = verifier(expected)
  let out: Uint8Array | undefined
  if (body.bytesObserved) {
    out = await body.bytesObserved((part) => tally.take(part))
    if (out.byteLength !== tally.size) throw corrupt(expected, 'the store returned bytes it did not show')
  } else {
    for await (const chunk of readChunks(body.stream())) {
      tally.take(chunk)
      // A first chunk that is the whole value, alone in its memory, is kept as is; anything else is gathered.
      if (!out && chunk.byteLength === expected.size && chunk.byteLength === chunk.buffer.byteLength) {
        out = chunk
      } else {
        out ??= allocateBytes(expected.size)
        out.set(chunk, tally.size - chunk.byteLength)
      }
    }
  }
  tally.check()
  return plainBytes(out ?? new Uint8Array(0))
}

/**
 * Reads a body of UTF-8 text chunk by chunk (never holding its bytes whole), hashing and decoding each chunk while the
 * next is read, and returns the text only once size and checksum match.
 * @throws XComError `E_CORRUPT` on a size or checksum mismatch.
 */
export async function readVerifiedText(body: ObjectBody, expected: Expected): Promise<string> {
  const tally = verifier(expected)
  // Byte-exact: a leading BOM stays in the text (as Buffer#toString keeps it).
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
  const pieces: string[] = []
  for await (const chunk of readChunks(body.stream())) {
    tally.take(chunk)
    pieces.push(decoder.decode(chunk, { stream: true }))
  }
  pieces.push(decoder.decode())
  tally.check()
  return pieces.join('')
}

/**
 * Passes bytes through while counting them; errors with `E_CORRUPT` when the count ends up different from `size`
 * (a decompressed value must have the size the reference records).
 */
export function sized(size: number, uri: string): TransformStream<Uint8Array, Uint8Array> {
  let count = 0
  const expected: Expected = { size, checksum: '', uri }
  return new TransformStream({
    transform(chunk, controller) {
      count += chunk.byteLength
      if (count > size) throw corrupt(expected, `it decompresses to more than the ${size} bytes written`)
      controller.enqueue(chunk)
    },
    flush() {
      if (count !== size)
        throw corrupt(expected, `it decompresses to ${count} bytes where ${size} were written`)
    },
  })
}
