import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { File, FileMetadata } from '@google-cloud/storage'
import type { ByteSource, Bytes, PutOptions } from '@xcom/core'
import { byteChunks, concatBytes } from '@xcom/core/adapter'
import { toXComError } from './errors.ts'

/** Big buffers are handed to the SDK in views of this size. */
const SLICE = 1024 * 1024

/** How a store uploads: its options, and what its client does about retries. */
export interface UploadSettings {
  /** Bodies of at most this many bytes go in one multipart request. */
  resumableThreshold: number
  /** Bytes per resumable request; undefined streams the body in one PUT. */
  chunkSize: number | undefined
  validation: 'crc32c' | 'md5' | false
  /** Whether the client retries writes without a precondition (its idempotency strategy is RetryAlways). */
  retriesUnconditionally: boolean
}

/**
 * Uploads `body` to `file` with the options of `put`: in one multipart request when it is at most
 * `resumableThreshold` bytes, else streamed through a resumable upload.
 * @throws the abort reason when aborted; the body's own error as is; any other failure mapped by `toXComError`.
 */
export async function uploadObject(
  file: File,
  body: ByteSource,
  options: PutOptions,
  settings: UploadSettings,
  uri: string,
): Promise<{ size: number }> {
  const { signal } = options
  const metadata = {
    contentType: options.contentType ?? 'application/octet-stream',
    metadata: { ...options.metadata },
  }
  const preconditionOpts = options.ifNoneMatch ? { ifGenerationMatch: 0 } : undefined
  const onProgress =
    options.onProgress &&
    ((event: { bytesWritten?: number }) => options.onProgress?.(event.bytesWritten ?? 0))
  const source = new Source(body)
  try {
    // Small bodies (and empty ones, which the SDK's chunked mode cannot send) go in one request; a stream of
    // unknown size is read up to the threshold to find out which it is.
    const whole =
      body instanceof Uint8Array
        ? body.byteLength <= settings.resumableThreshold
          ? body
          : undefined
        : options.size !== undefined && options.size > settings.resumableThreshold
          ? undefined
          : await source.head(settings.resumableThreshold, signal)
    if (whole !== undefined) {
      const single = {
        resumable: false,
        metadata,
        validation: settings.validation,
        ...(preconditionOpts ? { preconditionOpts } : {}),
      }
      if (preconditionOpts || settings.retriesUnconditionally) {
        // save() retries the request; without a precondition it would switch retries off for the whole client
        // when its strategy is RetryConditional, hence the condition above.
        await file.save(whole, { ...single, ...(onProgress ? { onUploadProgress: onProgress } : {}) })
      } else {
        const upload = file.createWriteStream(single)
        if (onProgress) upload.on('progress', onProgress)
        await pipeline(Readable.from([whole], { objectMode: false }), upload, ...(signal ? [{ signal }] : []))
      }
      return { size: sizeOf(file.metadata, whole.byteLength) }
    }
    const upload = file.createWriteStream({
      resumable: true,
      metadata,
      validation: settings.validation,
      ...(settings.chunkSize === undefined ? {} : { chunkSize: settings.chunkSize }),
      ...(preconditionOpts ? { preconditionOpts } : {}),
    })
    if (onProgress) upload.on('progress', onProgress)
    await pipeline(
      Readable.from(source.rest(), { objectMode: false }),
      upload,
      ...(signal ? [{ signal }] : []),
    )
    return { size: sizeOf(file.metadata, source.bytesRead) }
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error
    // The body's own failure is the caller's to see as it is.
    if (source.failure !== undefined && error === source.failure) throw error
    throw toXComError(error, { action: 'writing', uri })
  }
}

/** The size GCS reports for an upload (a number after resumable uploads, a string after multipart), else `sent`. */
function sizeOf(metadata: FileMetadata | undefined, sent: number): number {
  const stored = Number(metadata?.size)
  return Number.isFinite(stored) ? stored : sent
}

/**
 * An upload body read as chunks: its first bytes can be taken to decide how to send it (`head`), then everything
 * (those first bytes included) is streamed by `rest`. Big buffers are cut into 1 MiB views (no copy). A failure of
 * the body itself is kept in `failure`, to tell it apart from the SDK's.
 */
class Source {
  readonly #iterator: AsyncIterator<Bytes>
  readonly #buffered: Bytes[] = []
  /** Bytes taken from the body so far. */
  bytesRead = 0
  /** What the body threw, if it failed. */
  failure: unknown

  constructor(body: ByteSource) {
    this.#iterator = chunksOf(body)[Symbol.asyncIterator]()
  }

  async #next(): Promise<IteratorResult<Bytes>> {
    try {
      const result = await this.#iterator.next()
      if (!result.done) this.bytesRead += result.value.byteLength
      return result
    } catch (error) {
      this.failure = error
      throw error
    }
  }

  /** The whole body when it ends within `limit` bytes; otherwise undefined (what was read stays for `rest`). */
  async head(limit: number, signal: AbortSignal | undefined): Promise<Bytes | undefined> {
    while (this.bytesRead <= limit) {
      signal?.throwIfAborted()
      const result = await this.#next()
      if (result.done) return concatBytes(this.#buffered.splice(0))
      this.#buffered.push(result.value)
    }
    return undefined
  }

  /** Every remaining chunk, those read by `head` first. */
  async *rest(): AsyncGenerator<Bytes> {
    yield* this.#buffered.splice(0)
    for (;;) {
      const result = await this.#next()
      if (result.done) return
      yield result.value
    }
  }
}

/** The body's chunks, a Uint8Array cut into `SLICE`-byte views (no copy). */
async function* chunksOf(body: ByteSource): AsyncGenerator<Bytes> {
  if (!(body instanceof Uint8Array)) {
    yield* byteChunks(body)
    return
  }
  for (let offset = 0; offset < body.byteLength; offset += SLICE) yield body.subarray(offset, offset + SLICE)
}
