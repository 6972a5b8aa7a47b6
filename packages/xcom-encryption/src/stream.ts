import { type Bytes, XComError } from '@xcom/core'
import { plainBytes } from '@xcom/core/adapter'
import { ByteQueue } from './byte-queue.ts'
import type { SegmentCipher } from './cipher.ts'
import { corrupt } from './errors.ts'
import { checkCount, HEADER_SIZE, type Header, MAX_SEGMENTS, readHeader, TAG_SIZE } from './format.ts'

/**
 * Encrypts a stream: the header first, then each segment once the next byte (or the end) says whether it is the
 * final one. Holds at most one segment of written chunks, by reference: a chunk must not change once written.
 */
export function sealStream(cipher: SegmentCipher, header: Header): TransformStream<Bytes, Bytes> {
  const queue = new ByteQueue()
  const segmentSize = header.segmentSize
  let counter = 0
  const seal = (controller: TransformStreamDefaultController<Bytes>, final: boolean) => {
    checkCount(counter + 1)
    const sealer = cipher.sealer(counter++, final)
    const sealed = queue.take(final ? queue.length : segmentSize).map((piece) => sealer.update(piece))
    sealer.final()
    sealed.push(sealer.getAuthTag())
    for (const chunk of sealed) if (chunk.byteLength > 0) controller.enqueue(plainBytes(chunk))
  }
  return new TransformStream<Bytes, Bytes>({
    start: (controller) => controller.enqueue(header.bytes.slice()),
    transform: (chunk, controller) => {
      queue.push(checkChunk(chunk))
      while (queue.length > segmentSize) seal(controller, false)
    },
    flush: (controller) => seal(controller, true),
  })
}

/**
 * Decrypts a stream: reads the header, asks `open` for the value's cipher, then passes on each segment's plaintext
 * only after its tag checks; a segment counts as final only at the end of the input, so a missing end fails.
 */
export function openStream(
  open: (header: Header) => Promise<SegmentCipher>,
  uri?: string,
): TransformStream<Bytes, Bytes> {
  const queue = new ByteQueue()
  let cipher: SegmentCipher | undefined
  let full = 0
  let counter = 0
  const openSegment = (controller: TransformStreamDefaultController<Bytes>, final: boolean) => {
    const length = (final ? queue.length : full) - TAG_SIZE
    const pieces = queue.take(length)
    const tag = queue.takeBytes(TAG_SIZE)
    if (counter >= MAX_SEGMENTS) throw corrupt(`it has more than ${MAX_SEGMENTS} segments`, uri)
    let plain: Uint8Array[]
    try {
      const opener = (cipher as SegmentCipher).opener(counter, final, tag)
      plain = pieces.map((piece) => opener.update(piece))
      opener.final()
    } catch (error) {
      throw corrupt(`segment ${counter} does not authenticate`, uri, error)
    }
    counter++
    for (const chunk of plain) if (chunk.byteLength > 0) controller.enqueue(plainBytes(chunk))
  }
  return new TransformStream<Bytes, Bytes>({
    transform: async (chunk, controller) => {
      queue.push(checkChunk(chunk))
      if (cipher === undefined) {
        if (queue.length < HEADER_SIZE) return
        const header = readHeader(queue.takeBytes(HEADER_SIZE), uri)
        cipher = await open(header)
        full = header.segmentSize + TAG_SIZE
      }
      while (queue.length > full) openSegment(controller, false)
    },
    flush: (controller) => {
      if (cipher === undefined) {
        throw corrupt(`the value is ${queue.length} bytes, shorter than the ${HEADER_SIZE}-byte header`, uri)
      }
      if (queue.length === 0) {
        const end = counter === 0 ? 'right after the header' : `after segment ${counter - 1}`
        throw corrupt(`it ends ${end}, without its final segment (truncated)`, uri)
      }
      if (queue.length < TAG_SIZE || (queue.length === TAG_SIZE && counter > 0)) {
        throw corrupt(`it ends inside segment ${counter} (truncated or extended)`, uri)
      }
      openSegment(controller, true)
    },
  })
}

function checkChunk(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  throw new XComError('E_CONFIG', `Encryption streams take Uint8Array chunks, not ${typeof chunk}.`)
}
