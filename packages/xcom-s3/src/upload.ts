import { PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { PutOptions } from '@xcom/core'
import { MAX_PARTS } from './options.ts'

/** How {@link uploadMultipart} cuts and sends a body. */
export interface MultipartSettings {
  /** Bytes per part; grown for a known `size` that would need more than 10,000 parts. */
  partSize: number
  /** Parts in flight at once. */
  queueSize: number
  /** The body size when known. */
  size: number | undefined
}

/** One PutObject of a body held in memory. */
export async function putSingle(
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
export async function uploadMultipart(
  client: S3Client,
  params: PutObjectCommandInput,
  body: Uint8Array | ReadableStream<Uint8Array>,
  settings: MultipartSettings,
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
