import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3'
import { type ObjectBody, XComError } from '@xcom/core'

/** An object read in parts by {@link partReader}. */
export interface PartedObject {
  client: S3Client
  bucket: string
  /** The object's key in the bucket (prefix included). */
  fullKey: string
  /** The object's URI, for messages. */
  uri: string
  /** The size of the whole object. */
  size: number
  /** The ETag every ranged GET is pinned to (If-Match). */
  etag: string | undefined
  partSize: number
  readConcurrency: number
  /** Maps an SDK error of a ranged GET to an XComError (the store's error mapping, secrets scrubbed). */
  mapError: (error: unknown) => XComError
}

/**
 * The body of an object read in `partSize` parts, at most `readConcurrency` at once (each buffered whole), delivered
 * in order: the first part from `firstBody` (a GET of the whole object, dropped after that part), the others from
 * ranged GETs pinned to the ETag. An object replaced meanwhile fails with `E_BACKEND`, never with mixed bytes.
 */
export function partReader(
  object: PartedObject,
  firstBody: NonNullable<GetObjectCommandOutput['Body']>,
  signal: AbortSignal | undefined,
): Pick<ObjectBody, 'stream' | 'bytes'> {
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
          const part = fetchInto(starts[next] as number, Buffer.allocUnsafe(lengthOf(next)))
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
      const out = Buffer.allocUnsafe(size)
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
      return new Uint8Array(out.buffer, out.byteOffset, size)
    },
  }
}

/** The body of an object held in memory. */
export function bodyOf(bytes: Uint8Array): Pick<ObjectBody, 'stream' | 'bytes'> {
  return {
    stream: () =>
      new ReadableStream({
        start(controller) {
          if (bytes.byteLength > 0) controller.enqueue(bytes)
          controller.close()
        },
      }),
    bytes: async () => bytes,
  }
}

/** Passes on `length` bytes after skipping `skip` bytes, and drops the rest. */
export function slicing(skip: number, length: number): TransformStream<Uint8Array, Uint8Array> {
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
export function webStreamOf(body: NonNullable<GetObjectCommandOutput['Body']>): ReadableStream<Uint8Array> {
  const iterate = (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator]
  if (typeof iterate === 'function') return streamFrom(iterate.call(body))
  return body.transformToWebStream() as ReadableStream<Uint8Array>
}

/** A web stream pulling from an async iterator (returning the iterator when the stream is cancelled). */
export function streamFrom(iterator: AsyncIterator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await iterator.next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      async cancel(reason) {
        await iterator.return?.(reason)
      },
    },
    { highWaterMark: 0 },
  )
}
