import { PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { ByteSource, PutOptions } from '@xcom/core'
import { byteChunks, concatBytes, toReadableStream } from '@xcom/core/adapter'
import { MAX_PARTS } from './options.ts'

/** How {@link uploadBody} cuts and sends a body. */
export interface UploadSettings {
  /** Bytes per part, and the size from which a body goes up as a multipart upload. */
  partSize: number
  /** Parts in flight at once. */
  queueSize: number
}

/**
 * Writes `body` with `params` (bucket, object key, metadata, conditions): one PutObject when it is smaller than one
 * part, else a multipart upload. A stream is read up to one part to decide. Returns the size written.
 * @throws the body's own error when reading it failed (even if aborting the upload failed too), else the SDK's.
 */
export async function uploadBody(
  client: S3Client,
  params: PutObjectCommandInput,
  body: ByteSource,
  settings: UploadSettings,
  options: PutOptions,
): Promise<number> {
  const { partSize } = settings
  if (body instanceof Uint8Array) {
    if (body.byteLength < partSize) await putSingle(client, params, body, options)
    else await uploadMultipart(client, params, body, { ...settings, size: body.byteLength }, options)
    return body.byteLength
  }
  const iterator = byteChunks(body)
  const head: Uint8Array[] = []
  let size = 0
  while (size < partSize) {
    const next = await iterator.next()
    if (next.done) {
      await putSingle(client, params, concatBytes(head), options)
      return size
    }
    head.push(next.value)
    size += next.value.byteLength
  }
  let sourceError: { error: unknown } | undefined
  const rest = async function* () {
    yield* head
    for (;;) {
      let next: IteratorResult<Uint8Array>
      try {
        next = await iterator.next()
      } catch (error) {
        sourceError = { error }
        throw error
      }
      if (next.done) return
      size += next.value.byteLength
      yield next.value
    }
  }
  try {
    const stream = toReadableStream(rest(), 0)
    await uploadMultipart(client, params, stream, { ...settings, size: options.size }, options)
  } catch (error) {
    throw sourceError ? sourceError.error : error
  }
  return size
}

/** One PutObject of a body held in memory. */
async function putSingle(
  client: S3Client,
  params: PutObjectCommandInput,
  bytes: Uint8Array,
  options: PutOptions,
): Promise<void> {
  await client.send(new PutObjectCommand({ ...params, Body: bytes, ContentLength: bytes.byteLength }), {
    abortSignal: options.signal,
  })
  options.onProgress?.(bytes.byteLength)
}

/**
 * A multipart upload through lib-storage. A failure aborts the upload (no parts are left, where the endpoint
 * implements AbortMultipartUpload) and cancels a stream body.
 */
async function uploadMultipart(
  client: S3Client,
  params: PutObjectCommandInput,
  body: Uint8Array | ReadableStream<Uint8Array>,
  settings: UploadSettings & { size: number | undefined },
  options: PutOptions,
): Promise<void> {
  const abortController = new AbortController()
  const onAbort = () => abortController.abort(options.signal?.reason)
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const upload = new Upload({
    client,
    params: { ...params, Body: body },
    // S3 takes at most 10,000 parts: a known large size gets larger parts.
    partSize: Math.max(settings.partSize, Math.ceil((settings.size ?? 0) / MAX_PARTS)),
    queueSize: settings.queueSize,
    leavePartsOnError: false,
    abortController,
  })
  const onProgress = options.onProgress
  if (onProgress) {
    upload.on('httpUploadProgress', (progress) => {
      if (progress.loaded !== undefined) onProgress(progress.loaded)
    })
  }
  try {
    await upload.done()
  } catch (error) {
    if (body instanceof ReadableStream) await body.cancel(error).catch(() => {})
    throw error
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}
