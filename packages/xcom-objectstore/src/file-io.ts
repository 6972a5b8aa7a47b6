/*
 * The file-system steps of FileObjectStore: placing a file in a directory that a concurrent delete may prune, writing
 * and reading files in large parts, and mapping errno codes to XComErrors.
 */
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { XComError, type XComErrorCode } from '@xcom/core'
import { allocateBytes } from '@xcom/core/adapter'

/** Bytes read per call when reading a whole object into one buffer: large, so the per-call cost vanishes. */
const READ_CHUNK = 8 * 1024 * 1024
/**
 * Bytes per chunk of a stream (two are read ahead), bounding its memory: small enough that a chunk is still in the CPU
 * cache while the reader hashes and decodes it.
 */
const STREAM_CHUNK = 512 * 1024

/** Attempts to place a file before a write gives up on a directory that keeps disappearing (see below). */
const PLACE_ATTEMPTS = 100

/**
 * Runs `place` (which moves or links `source` to `target`) after creating the parent directory of `target`. A
 * concurrent `deleteMany`, in this or another process, removes the directories it leaves empty, so a directory may
 * vanish between the two steps, or between the levels of the recursive mkdir: then both run again. Each lost race
 * needs a delete to remove the directory in that short window, and from the third attempt on a short random pause
 * lets deletes finish first; the bound only ends a directory that can never be made (e.g. behind a dangling link).
 */
export async function placeInDirectory(
  target: string,
  source: string,
  place: () => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(dirname(target), { recursive: true })
      return await place()
    } catch (error) {
      if (attempt >= PLACE_ATTEMPTS || !(await lostToPrune(error, dirname(target), source))) throw error
      if (attempt >= 3) await sleep(Math.random() * Math.min(attempt, 10))
    }
  }
}

/**
 * True when `error` (ENOENT, or the ENOTDIR / EEXIST that a recursive mkdir reports when a level disappears under it)
 * came from a concurrent removal of an empty directory on the way to `dir`: `source` still exists and no file stands
 * in the way.
 */
async function lostToPrune(error: unknown, dir: string, source: string): Promise<boolean> {
  const code = errnoOf(error)
  if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EEXIST') return false
  if (!(await stat(source).then(Boolean, () => false))) return false
  // The nearest existing level must be a directory: a file there is a real conflict of keys.
  for (let path = dir; path !== dirname(path); path = dirname(path)) {
    try {
      return (await stat(path)).isDirectory()
    } catch (failure) {
      if (errnoOf(failure) !== 'ENOENT') return false
    }
  }
  return false
}

/** Writes all of `chunk` at the handle's position (a write may take fewer bytes than given). */
export async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset)
    offset += bytesWritten
  }
}

/** Bytes `[start, end)` of a file as a stream, reading ahead one chunk while the consumer works on the previous one. */
export function fileStream(
  path: string,
  start: number,
  end: number,
  uri: string,
): ReadableStream<Uint8Array> {
  let handle: FileHandle | undefined
  let position = start
  const close = async () => {
    const open = handle
    handle = undefined
    await open?.close()
  }
  return new ReadableStream(
    {
      async pull(controller) {
        try {
          handle ??= await open(path, 'r')
          const length = Math.min(STREAM_CHUNK, end - position)
          const buffer = length > 0 ? allocateBytes(length) : undefined
          const { bytesRead } = buffer ? await handle.read(buffer, 0, length, position) : { bytesRead: 0 }
          if (!buffer || bytesRead === 0) {
            await close()
            controller.close()
            return
          }
          position += bytesRead
          controller.enqueue(bytesRead < length ? buffer.subarray(0, bytesRead) : buffer)
        } catch (error) {
          await close().catch(() => {})
          throw fileError(error, 'Reading', uri)
        }
      },
      cancel: close,
    },
    { highWaterMark: 2 },
  )
}

/**
 * Bytes `[start, end)` of a file in one buffer (shorter if the file shrank since it was examined), read in
 * {@link READ_CHUNK} parts straight into it; `observe` sees each part while the next one is being read.
 */
export async function readSpan(
  path: string,
  start: number,
  end: number,
  uri: string,
  observe?: (part: Uint8Array) => void,
): Promise<Uint8Array> {
  let handle: FileHandle | undefined
  let reading: Promise<unknown> | undefined
  try {
    handle = await open(path, 'r')
    const out = allocateBytes(end - start)
    let offset = 0
    let landed: Uint8Array | undefined
    while (offset < out.byteLength) {
      const read = handle.read(out, offset, Math.min(READ_CHUNK, out.byteLength - offset), start + offset)
      reading = read
      if (landed) {
        const part = landed
        landed = undefined
        observe?.(part)
      }
      const { bytesRead } = await read
      reading = undefined
      if (bytesRead === 0) break
      landed = out.subarray(offset, offset + bytesRead)
      offset += bytesRead
    }
    if (landed) observe?.(landed)
    return offset < out.byteLength ? out.subarray(0, offset) : out
  } catch (error) {
    await reading?.catch(() => {})
    throw fileError(error, 'Reading', uri)
  } finally {
    await handle?.close()
  }
}

/** Runs `fn` on every item, at most `limit` at a time. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** The errno code (`ENOENT`...) of a Node.js system error; undefined for any other error. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code
  return typeof (error as { syscall?: unknown })?.syscall === 'string' && typeof code === 'string'
    ? code
    : undefined
}

const ERRNO: Record<string, [XComErrorCode, string]> = {
  ENOENT: ['E_NOT_FOUND', 'it does not exist (it was deleted meanwhile)'],
  EACCES: ['E_PERMISSION_DENIED', 'permission denied: let this process read and write the store directory'],
  EPERM: [
    'E_PERMISSION_DENIED',
    'operation not permitted: let this process read and write the store directory',
  ],
  EROFS: ['E_PERMISSION_DENIED', 'the file system is read-only: point the store at a writable directory'],
  ENAMETOOLONG: ['E_INVALID_KEY', 'a key segment is too long for this file system: use shorter keys'],
  EISDIR: [
    'E_INVALID_KEY',
    'the key is a directory of other keys: one key cannot be both an object and a prefix here',
  ],
  ENOTDIR: [
    'E_INVALID_KEY',
    'a prefix of the key is an object: one key cannot be both an object and a prefix here',
  ],
  EEXIST: [
    'E_INVALID_KEY',
    'a prefix of the key is an object: one key cannot be both an object and a prefix here',
  ],
  ENOSPC: ['E_BACKEND', 'no space left on the device: free space or move the store'],
  EDQUOT: ['E_BACKEND', 'the disk quota is exceeded: free space or raise the quota'],
}

/**
 * Maps a file-system error to an {@link XComError} naming the URI; errors that are not file-system errors (the body's
 * own error, an abort reason, an XComError) pass through unchanged.
 */
export function fileError(error: unknown, action: string, uri: string): unknown {
  const errno = errnoOf(error)
  if (errno === undefined) return error
  const [code, why] = ERRNO[errno] ?? ['E_BACKEND', `${errno}: ${(error as Error).message}`]
  return new XComError(code, `${action} ${uri} failed: ${why}.`, { cause: error, uri })
}
