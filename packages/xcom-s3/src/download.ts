import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3'
import { type ObjectBody, XComError } from '@xcom/core'
import { allocateBytes, toReadableStream } from '@xcom/core/adapter'

/** The bytes of a GET: a stream to read once, or all of them at once. */
type Reader = Pick<ObjectBody, 'stream' | 'bytes'>

/** What {@link responseBody} reads an object with: where it is, how, and what was asked. */
export interface ReadRequest {
  client: S3Client
  bucket: string
  /** The object's key in the bucket (prefix included). */
  fullKey: string
  /** The object's URI, for messages. */
  uri: string
  /** The range asked for, if any. */
  range: { start: number; end?: number | undefined } | undefined
  partSize: number
  readConcurrency: number
  signal: AbortSignal | undefined
  /** Maps an SDK error of a ranged GET to an XComError (the store's error mapping, secrets scrubbed). */
  mapError: (error: unknown) => XComError
}

/**
 * The size of the whole object and the body of a GetObject response. A range the server ignored or widened is cut to
 * what was asked; without a range, an object larger than `partSize` is read as its first part from this response and
 * ranged GETs of the rest, `readConcurrency` at once, pinned to its ETag (see {@link partReader}).
 */
export function responseBody(output: GetObjectCommandOutput, read: ReadRequest): Reader & { size: number } {
  const body = output.Body
  const served = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(output.ContentRange ?? '')
  const size = served ? Number(served[3]) : (output.ContentLength ?? 0)
  if (!body) return { size, ...bodyOf(new Uint8Array(0)) }
  const want = read.range
  const first = served ? Number(served[1]) : 0
  const last = served ? Number(served[2]) : size - 1
  // Some S3-compatible servers ignore or widen a Range (s3rver serves all of "bytes=0-0"): cut to what was asked.
  if (want && (first !== want.start || last > (want.end ?? last))) {
    const window = slicing(want.start - first, Math.min(want.end ?? last, last) - want.start + 1)
    const stream = () => webStreamOf(body).pipeThrough(window)
    return { size, stream, bytes: async () => new Uint8Array(await new Response(stream()).arrayBuffer()) }
  }
  if (!want && read.readConcurrency > 1 && size > read.partSize) {
    return { size, ...partReader({ ...read, size, etag: output.ETag }, body, read.signal) }
  }
  return { size, stream: () => webStreamOf(body), bytes: () => body.transformToByteArray() }
}

/** An object read in parts by {@link partReader}. */
interface PartedObject extends Omit<ReadRequest, 'range' | 'signal'> {
  /** The size of the whole object. */
  size: number
  /** The ETag every ranged GET is pinned to (If-Match). */
  etag: string | undefined
}

/**
 * The body of an object read in `partSize` parts, at most `readConcurrency` at once (each buffered whole), delivered
 * in order: the first part from `firstBody` (a GET of the whole object, dropped after that part), the others from
 * ranged GETs pinned to the ETag. An object replaced meanwhile fails with `E_BACKEND`, never with mixed bytes.
 */
function partReader(
  object: PartedObject,
  firstBody: NonNullable<GetObjectCommandOutput['Body']>,
  signal: AbortSignal | undefined,
): Reader {
  const { client, bucket, fullKey, uri, size, etag, partSize, readConcurrency } = object
  const stop = new AbortController()
  const abortSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal
  const starts = [0]
  for (let start = partSize; start < size; start += partSize) starts.push(start)
  const changed = (cause?: unknown) =>
    new XComError(
      'E_BACKEND',
      `Reading ${uri} failed: the object changed while it was being read. Read it again.`,
      {
        uri,
        cause,
      },
    )
  /** Fills `target` with the part starting at `start`. */
  const fetchInto = async (start: number, target: Uint8Array): Promise<Uint8Array> => {
    let body: unknown = firstBody
    if (start !== 0) {
      const range = `bytes=${start}-${start + target.byteLength - 1}`
      try {
        const part = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: fullKey, Range: range, IfMatch: etag }),
          { abortSignal },
        )
        body = part.Body
      } catch (error) {
        if (abortSignal.aborted) throw signal?.aborted ? signal.reason : error
        const mapped = object.mapError(error)
        // A failed If-Match, or a range past a new, shorter end: the object was replaced.
        const replaced =
          mapped.code === 'E_PRECONDITION_FAILED' || (error as { name?: string })?.name === 'InvalidRange'
        throw replaced ? changed(error) : mapped
      }
    }
    let offset = 0
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      const room = target.byteLength - offset
      // The first body carries the whole object: stop (and drop the response) once the first part is in.
      if (chunk.byteLength > room && start !== 0) throw changed()
      target.set(chunk.byteLength > room ? chunk.subarray(0, room) : chunk, offset)
      offset += Math.min(room, chunk.byteLength)
      if (offset === target.byteLength && start === 0) break
    }
    if (offset !== target.byteLength) throw changed()
    return target
  }
  const lengthOf = (index: number) => ((starts[index + 1] ?? size) as number) - (starts[index] as number)
  const cancel = () => {
    stop.abort()
    ;(firstBody as { destroy?: () => void }).destroy?.()
  }
  return {
    stream: () => {
      const pending: Promise<Uint8Array>[] = []
      let next = 0
      const fill = () => {
        for (; pending.length < readConcurrency && next < starts.length; next++) {
          const part = fetchInto(starts[next] as number, allocateBytes(lengthOf(next)))
          part.catch(() => {})
          pending.push(part)
        }
      }
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            fill()
            const part = pending.shift()
            if (!part) return controller.close()
            try {
              controller.enqueue(await part)
            } catch (error) {
              cancel()
              throw error
            }
            fill()
          },
          cancel,
        },
        { highWaterMark: 0 },
      )
    },
    bytes: async () => {
      const out = allocateBytes(size)
      let next = 0
      const worker = async () => {
        while (next < starts.length) {
          const index = next++
          const start = starts[index] as number
          await fetchInto(start, out.subarray(start, start + lengthOf(index)))
        }
      }
      try {
        await Promise.all(Array.from({ length: Math.min(readConcurrency, starts.length) }, worker))
      } catch (error) {
        cancel()
        throw error
      }
      return out
    },
  }
}

/** The body of an object held in memory. */
export function bodyOf(bytes: Uint8Array): Reader {
  return { stream: () => toReadableStream(bytes), bytes: async () => bytes }
}

/** Passes on `length` bytes after skipping `skip` bytes, and drops the rest. */
function slicing(skip: number, length: number): TransformStream<Uint8Array, Uint8Array> {
  let offset = 0
  return new TransformStream({
    transform(chunk, controller) {
      const from = Math.max(0, skip - offset)
      const to = Math.min(chunk.byteLength, skip + length - offset)
      offset += chunk.byteLength
      if (to > from) controller.enqueue(chunk.subarray(from, to))
    },
  })
}

/**
 * The response body as a web stream. In Node the body is an http.IncomingMessage: pulling from its async iterator
 * costs less per chunk than the SDK's `transformToWebStream()`; cancelling the stream destroys the response.
 */
function webStreamOf(body: NonNullable<GetObjectCommandOutput['Body']>): ReadableStream<Uint8Array> {
  if (typeof (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] === 'function') {
    return toReadableStream(body as AsyncIterable<Uint8Array>, 0)
  }
  return body.transformToWebStream() as ReadableStream<Uint8Array>
}
