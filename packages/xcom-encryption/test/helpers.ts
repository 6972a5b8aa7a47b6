import { randomBytes } from 'node:crypto'
import type { Encryption, EncryptionBinding, EncryptionKey } from '@xcom/core'
import { toReadableStream } from '@xcom/core/adapter'
import { chunked, readAll } from '@xcom/testing'
import { aesGcmStream, staticKeys } from '../src/index.ts'

/** A key with fresh random material. */
export function newKey(id: string): EncryptionKey {
  return { id, material: new Uint8Array(randomBytes(32)) }
}

/** The binding most tests use. */
export const binding: EncryptionBinding = {
  dagId: 'etl_daily',
  runId: 'scheduled__2026-12-03T00:00:00+00:00',
  taskId: 'transform',
  mapIndex: -1,
  key: 'return_value',
  recordId: 'rec-1',
}

/** An encryption with one key and small segments, so a few hundred bytes make several of them. */
export function smallSegments(segmentSize = 32, keys: EncryptionKey[] = [newKey('k1')]): Encryption {
  return aesGcmStream({ keys: staticKeys(keys), segmentSize })
}

/** Deterministic "random" bytes (a counter from `seed`), so two encryptions of the same input are identical. */
export function counterRandom(seed = 0): (size: number) => Uint8Array {
  let next = seed
  return (size) => Uint8Array.from({ length: size }, () => next++ & 0xff)
}

/** `bytes` written in chunks of `sizes` (in turn) through `transform`, and everything it produced. */
export async function through(
  bytes: Uint8Array,
  transform: TransformStream<Uint8Array, Uint8Array>,
  sizes: number | number[] = Math.max(1, bytes.byteLength),
): Promise<Uint8Array> {
  return readAll(toReadableStream(chunked(bytes, sizes)).pipeThrough(transform))
}

/** Decrypts with the stream form, recording what was passed on before it failed (if it did). */
export async function decryptStreamed(
  encryption: Encryption,
  bytes: Uint8Array,
  bound: EncryptionBinding = binding,
  sizes: number | number[] = 7,
): Promise<{ error?: unknown; passedOn: number }> {
  const reader = toReadableStream(chunked(bytes, sizes))
    .pipeThrough(encryption.decryptStream(bound, { uri: 'mem://bucket/value' }))
    .getReader()
  let passedOn = 0
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read())
      passedOn += next.value.byteLength
    return { passedOn }
  } catch (error) {
    return { error, passedOn }
  }
}

/** The encrypted form's segments (after the header), for tests that reorder them. */
export function splitSegments(sealed: Uint8Array, segmentSize: number, headerSize: number): Uint8Array[] {
  const segments: Uint8Array[] = []
  for (let offset = headerSize; offset < sealed.byteLength; offset += segmentSize + 16) {
    segments.push(sealed.slice(offset, Math.min(sealed.byteLength, offset + segmentSize + 16)))
  }
  return segments
}
