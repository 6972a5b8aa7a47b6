import {
  type Bytes,
  type Codec,
  type Encryption,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type XComContext,
  XComError,
  type XComKey,
} from '@xcom/core'
import { activeTelemetry, plainBytes, storageAttributes, type Telemetry } from '@xcom/core/adapter'
import { readVerified, readVerifiedText, sized, verifying } from './bytes.ts'
import { algorithmOf } from './checksum.ts'
import type { CodecLookup } from './codecs.ts'
import { bindingOf, decryptBytes, requireEncryption } from './encryption.ts'
import { expectedOf, META, type ObjectReference } from './reference.ts'
import { uriOf } from './store-util.ts'
import { countChecksumFailure, logReplicaFallback } from './telemetry.ts'

/**
 * Reads the object of a checked reference, verified against its size and checksum, decrypted when the reference says
 * it is encrypted, and decompressed to exactly its recorded size: uncompressed, unencrypted JSON as text (decoded chunk
 * by chunk as it arrives, never held as bytes too), anything else as bytes. A store with `replicas` is read replica by
 * replica until one answers with the right bytes.
 * @throws XComError `E_NOT_FOUND` naming the URI when no replica has the object; `E_CORRUPT` when it does not match
 * the reference (or fails to decrypt); `E_CONFIG` for an encrypted object without `encryption` or its key.
 */
export async function readValue(
  store: ObjectStore,
  ref: ObjectReference,
  codec: Codec | undefined,
  ctx: XComContext,
  encryption?: Encryption,
): Promise<Bytes | string> {
  const telemetry = activeTelemetry()
  const decrypting = ref.encryption === undefined ? undefined : requireEncryption(encryption, ref.uri)
  return firstReplica(store, ref, ctx, async (replica) => {
    const downloaded = await download<Bytes | string>(telemetry, replica, ref, (body) =>
      !codec && !decrypting && ref.format === 'json'
        ? readVerifiedText(body, expectedOf(ref))
        : readVerified(body, expectedOf(ref)),
    )
    const stored =
      decrypting && typeof downloaded !== 'string'
        ? await decryptBytes(decrypting, downloaded, ctx, ref.uri)
        : downloaded
    if (decrypting && !codec && stored.length !== ref.size) throw sizeMismatch(ref, stored.length)
    if (!codec || typeof stored === 'string') return stored
    return telemetry.span('xcom.decompress', { 'xcom.codec': codec.name }, async (span) => {
      if (span.recording) span.set({ 'xcom.value.stored_size': ref.storedSize, 'xcom.value.size': ref.size })
      const raw = await codec
        .decompress(stored, { maxSize: ref.size, uri: ref.uri })
        .catch((error: unknown) => {
          throw XComError.is(error, 'E_TOO_LARGE') ? inflatesPast(ref) : error
        })
      if (raw.byteLength !== ref.size) throw sizeMismatch(ref, raw.byteLength)
      return plainBytes(raw)
    })
  })
}

/**
 * Gets the object from one replica and `read`s it (verifying size and checksum) in client span `xcom.download`; a
 * verification failure (`E_CORRUPT`) counts in `xcom.checksum.failures`.
 */
async function download<T>(
  telemetry: Telemetry,
  replica: ObjectStore,
  ref: ObjectReference,
  read: (body: ObjectBody) => Promise<T>,
): Promise<T> {
  return telemetry.span(
    'xcom.download',
    {},
    async (span) => {
      if (span.recording)
        span.set({
          ...storageAttributes(replica.url),
          'xcom.object.key': ref.objectKey,
          'xcom.value.stored_size': ref.storedSize,
          'xcom.checksum.algorithm': algorithmOf(ref.checksum),
        })
      const body = await replica.get(ref.objectKey)
      try {
        if (body.size !== ref.storedSize) {
          throw new XComError(
            'E_CORRUPT',
            `The object ${ref.uri} is corrupt: it holds ${body.size} bytes where ${ref.storedSize} were written. Clear this XCom and push it again.`,
            { uri: ref.uri },
          )
        }
        return await read(body)
      } catch (error) {
        if (XComError.is(error, 'E_CORRUPT'))
          countChecksumFailure(telemetry, replica.url, algorithmOf(ref.checksum))
        throw error
      }
    },
    { client: true },
  )
}

/**
 * The value's bytes (decrypted, decompressed) as a stream that errors with `E_CORRUPT` at its end when they do not
 * match the reference; the first replica that has the object is read.
 * @throws XComError `E_NOT_FOUND` naming the URI when no replica has the object; `E_CONFIG` for an encrypted object
 * without `encryption`.
 */
export async function openValueStream(
  store: ObjectStore,
  ref: ObjectReference,
  codec: Codec | undefined,
  ctx: XComContext,
  encryption?: Encryption,
): Promise<ReadableStream<Bytes>> {
  const stored = await openStoredStream(store, ref, ctx, encryption)
  if (codec)
    return inflated(
      stored.pipeThrough(codec.decompressStream({ maxSize: ref.size, uri: ref.uri })),
      ref,
    ).pipeThrough(sized(ref.size, ref.uri))
  return ref.encryption === undefined ? stored : stored.pipeThrough(sized(ref.size, ref.uri))
}

/**
 * The object's bytes as stored, verified against the reference and decrypted, still compressed: what key rotation
 * seals again, and what {@link openValueStream} inflates.
 * @throws XComError `E_NOT_FOUND` naming the URI when no replica has the object; `E_CONFIG` for an encrypted object
 * without `encryption`.
 */
export async function openStoredStream(
  store: ObjectStore,
  ref: ObjectReference,
  ctx: XComContext,
  encryption?: Encryption,
): Promise<ReadableStream<Bytes>> {
  const telemetry = activeTelemetry()
  const decrypting = ref.encryption === undefined ? undefined : requireEncryption(encryption, ref.uri)
  let source = store
  const body = await firstReplica(store, ref, ctx, (replica) => {
    source = replica
    // Only the request is in the span: the bytes are read, verified and decoded as the caller consumes them.
    return download(telemetry, replica, ref, async (opened) => opened)
  })
  const verified = body
    .stream()
    .pipeThrough(
      verifying(expectedOf(ref), () =>
        countChecksumFailure(telemetry, source.url, algorithmOf(ref.checksum)),
      ),
    )
  return decrypting
    ? verified.pipeThrough(decrypting.decryptStream(bindingOf(ctx), { uri: ref.uri }))
    : verified
}

/** `E_CORRUPT`: the value read back is not the size its reference records. */
function sizeMismatch(ref: ObjectReference, size: number): XComError {
  return new XComError(
    'E_CORRUPT',
    `The object ${ref.uri} is corrupt: it decodes to ${size} bytes where ${ref.size} were written.`,
    { uri: ref.uri },
  )
}

/** What `readObject` returns: the object's bytes (decompressed), its info, its codec, and whether it was verified. */
export interface ObjectRead {
  bytes: Bytes
  info: ObjectInfo
  /** The codec name, or `"none"`. */
  codec: string
  /** True when the object's metadata carried a checksum and the bytes matched it. */
  verified: boolean
}

/**
 * Reads any object of `store` by key, without a reference: the codec comes from the object's metadata, else from
 * `codecs.inferred` (key suffix, magic bytes); the bytes are verified when the metadata carries a checksum.
 * Decompression stops at the size the metadata records, else at `maxValueSize`.
 * @throws XComError `E_NOT_FOUND` naming the URI; `E_CORRUPT` when the checksum differs; `E_TOO_LARGE`;
 * `E_UNKNOWN_CODEC`; `E_CONFIG` naming `@xcom/compression` when it is needed and not installed.
 */
export async function readObject(
  store: ObjectStore,
  objectKey: string,
  codecs: CodecLookup,
  maxValueSize: number,
  encryption?: Encryption,
): Promise<ObjectRead> {
  const uri = uriOf(store.url, objectKey)
  const body = await store.get(objectKey)
  const { stream: _stream, bytes: _bytes, bytesObserved: _observed, ...info } = body
  const checksum = info.metadata[META.checksum]
  const downloaded =
    checksum === undefined
      ? plainBytes(await body.bytes())
      : await readVerified(body, { size: info.size, checksum, uri }).catch((error: unknown) => {
          if (XComError.is(error, 'E_CORRUPT'))
            countChecksumFailure(activeTelemetry(), store.url, algorithmOf(checksum))
          throw error
        })
  const stored =
    info.metadata[META.encryption] === undefined
      ? downloaded
      : await decryptBytes(requireEncryption(encryption, uri), downloaded, contextOf(info.metadata, uri), uri)
  const named = info.metadata[META.codec]
  const recorded = Number(info.metadata[META.size])
  // A recorded size bounds decompression exactly; without one, maxValueSize does.
  const maxSize =
    Number.isSafeInteger(recorded) && recorded >= 0 ? Math.min(recorded, maxValueSize) : maxValueSize
  const codec =
    named !== undefined
      ? await codecs.named(named, `Reading ${uri}`)
      : await codecs.inferred(objectKey, stored, `Reading ${uri}`)
  const limit = Number.isFinite(maxSize) ? { maxSize, uri } : { uri }
  const bytes = codec ? plainBytes(await codec.decompress(stored, limit)) : stored
  return { bytes, info, codec: codec?.name ?? 'none', verified: checksum !== undefined }
}

/** The XCom and record an object's metadata names: what its encryption is bound to. @throws E_CORRUPT */
function contextOf(metadata: Record<string, string>, uri: string): XComContext {
  const decoded = (name: string) => {
    try {
      return decodeURIComponent(metadata[name] ?? '')
    } catch {
      return ''
    }
  }
  const ctx = {
    dagId: decoded(META.dagId),
    runId: decoded(META.runId),
    taskId: decoded(META.taskId),
    mapIndex: Number(metadata[META.mapIndex]),
    key: decoded(META.key),
    recordId: metadata[META.recordId] ?? '',
  }
  if (!Number.isSafeInteger(ctx.mapIndex) || !ctx.dagId || !ctx.recordId)
    throw new XComError(
      'E_CORRUPT',
      `The object ${uri} is encrypted, but its metadata does not name the XCom it belongs to.`,
      { uri },
    )
  return ctx
}

/**
 * Runs `read` on each copy of the object in turn (`store.replicas`, or the store itself) until one succeeds; a missing
 * object is reported with the reference's URI, any other failure as the first such error.
 */
async function firstReplica<T>(
  store: ObjectStore,
  ref: ObjectReference,
  xcom: XComKey | undefined,
  read: (replica: ObjectStore) => Promise<T>,
): Promise<T> {
  const errors: unknown[] = []
  const replicas = store.replicas ?? [store]
  for (const [index, replica] of replicas.entries()) {
    try {
      return await read(replica)
    } catch (error) {
      errors.push(error)
      const next = replicas[index + 1]
      if (next) logReplicaFallback(activeTelemetry(), xcom, replica.url, ref.objectKey, next.url, error)
    }
  }
  const failure = errors.find((error) => !XComError.is(error, 'E_NOT_FOUND'))
  if (failure) throw failure
  throw new XComError(
    'E_NOT_FOUND',
    `The object ${ref.uri} of this XCom is missing although its row still references it: it was not removed by an overwrite or clear of this XCom. Something deleted it (a bucket lifecycle rule, a manual delete, another tool; or gc with a grace period shorter than a push) or it was never fully written. The value is lost: clear this XCom and push it again.`,
    { uri: ref.uri, cause: errors[0] },
  )
}

/** `E_CORRUPT`: the object inflates past the size its reference records (a forged or damaged reference or object). */
function inflatesPast(ref: ObjectReference): XComError {
  return new XComError(
    'E_CORRUPT',
    `The object ${ref.uri} is corrupt: it decompresses to more than the ${ref.size} bytes its reference records (decompression stopped there).`,
    { uri: ref.uri },
  )
}

/** The decompressed stream, its `E_TOO_LARGE` (output past the recorded size) reported as `E_CORRUPT`. */
function inflated(stream: ReadableStream<Bytes>, ref: ObjectReference): ReadableStream<Bytes> {
  const reader = stream.getReader()
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      } catch (error) {
        controller.error(XComError.is(error, 'E_TOO_LARGE') ? inflatesPast(ref) : error)
      }
    },
    cancel: (reason) => reader.cancel(reason),
  })
}
