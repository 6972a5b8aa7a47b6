/*
 * FileObjectStore layout, under the root directory:
 *
 *   <root>/<key>                 the object's bytes exactly as written (readable with cat, zcat, ...)
 *   <root>/.xcom/meta/<key>      its sidecar: JSON {"metadata": {...}, "contentType": "..."}
 *   <root>/.xcom/tmp/<uuid>      bytes (and <uuid>.meta) being written
 *
 * A write streams the body into a temporary file, writes the sidecar beside it, then renames the sidecar and the
 * data into place, so readers see a whole object or none (a conditional create hard-links the data first, which fails
 * atomically when the key exists, then places the sidecar). A failed or aborted write removes its temporary files.
 * Two unconditional writes racing on one key each land whole, the last rename winning (the sidecar may then come from
 * the other writer; the backend never writes a key twice).
 *
 * Keys pass core's `checkObjectKey` (no empty, `.` or `..` segment, no control character or `\`), and the first segment
 * must not be `.xcom`: a key therefore always names a path inside the root. Temporary files that a killed write left
 * in `.xcom/tmp` are removed by `removeIncomplete` (which `gc()` calls) once older than the grace period. Deleting
 * an object removes its now-empty parent directories; a write whose directory is removed that way (by this or another
 * process) before it could place its file there makes the directory again and retries. `list` walks the tree (not
 * following symbolic links) and hides `.xcom`.
 *
 * Whole objects are read in 8 MiB parts straight into one buffer, and bodies show each part as it lands
 * (`bytesObserved`), so the backend hashes one part while the next is read.
 */
import { randomUUID } from 'node:crypto'
import type { Dirent } from 'node:fs'
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import {
  type ByteSource,
  type GetOptions,
  type IncompleteReport,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  XComError,
  type XComErrorCode,
} from '@xcom/core'
import { checkObjectKey } from '@xcom/core/adapter'
import { allocate, chunksOf, type ObservableBody } from './bytes.ts'
import { alreadyExists, notFound, resolveRange, uriOf } from './store-util.ts'

/** Options of {@link FileObjectStore}. */
export interface FileObjectStoreOptions {
  /** The directory objects live under; created on the first write. Relative paths resolve against the working directory. */
  root: string
  /** Flush each object to disk (`fsync`) before it becomes visible: durable across power loss, slower. @default false */
  fsync?: boolean
}

/** The directory under the root that holds sidecars and temporary files. */
const INTERNAL = '.xcom'
/** Bytes read per call when reading a whole object into one buffer: large, so the per-call cost vanishes. */
const READ_CHUNK = 8 * 1024 * 1024
/**
 * Bytes per chunk of a stream (two are read ahead), bounding its memory: small enough that a chunk is still in the CPU
 * cache while the reader hashes and decodes it.
 */
const STREAM_CHUNK = 512 * 1024

/**
 * An {@link ObjectStore} on the local file system (`file:///absolute/path`). Writes are atomic (temporary file +
 * rename), each object's metadata lives in a sidecar, and no key can reach outside the root directory.
 */
export class FileObjectStore implements ObjectStore {
  /** `file:///<absolute root>`. */
  readonly url: string
  /** Range reads and conditional creates (by hard link) are supported. */
  readonly capabilities = { rangeReads: true, conditionalCreate: true } as const
  /** The absolute root directory. */
  readonly root: string
  readonly #fsync: boolean

  /** @throws XComError `E_CONFIG` when `root` is not a non-empty string. */
  constructor(options: FileObjectStoreOptions) {
    if (typeof options?.root !== 'string' || options.root === '') {
      throw new XComError(
        'E_CONFIG',
        'new FileObjectStore({ root }) needs the directory to store objects in, e.g. { root: ".xcom/objects" }.',
      )
    }
    this.root = resolve(options.root)
    this.url = pathToFileURL(this.root).href
    this.#fsync = options.fsync ?? false
  }

  /**
   * Streams `body` into a temporary file and renames it into place with its metadata sidecar.
   * @throws XComError `E_PRECONDITION_FAILED` when `ifNoneMatch` is set and the key exists; `E_INVALID_KEY` for a key
   * that cannot name a path inside the root; `E_PERMISSION_DENIED`; the body's own error or the abort reason (nothing
   * is left behind in any of these cases).
   */
  async put(key: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const target = this.#path(key)
    const metaTarget = this.#path(key, 'meta')
    options.signal?.throwIfAborted()
    const tmpDir = join(this.root, INTERNAL, 'tmp')
    const tmp = join(tmpDir, randomUUID())
    const metaTmp = `${tmp}.meta`
    try {
      await mkdir(tmpDir, { recursive: true })
      const size = await this.#writeBody(tmp, body, options)
      await writeFile(
        metaTmp,
        JSON.stringify({ metadata: options.metadata ?? {}, contentType: options.contentType }),
      )
      if (options.ifNoneMatch) {
        await placeInDirectory(target, tmp, () =>
          link(tmp, target).catch((error: unknown) => {
            throw errnoOf(error) === 'EEXIST' ? alreadyExists(this.url, key) : error
          }),
        )
        await rm(tmp, { force: true })
        await placeInDirectory(metaTarget, metaTmp, () => rename(metaTmp, metaTarget))
      } else {
        await placeInDirectory(metaTarget, metaTmp, () => rename(metaTmp, metaTarget))
        await placeInDirectory(target, tmp, () => rename(tmp, target))
      }
      return { size }
    } catch (error) {
      await Promise.all([rm(tmp, { force: true }), rm(metaTmp, { force: true })])
      throw fileError(error, 'Writing', uriOf(this.url, key))
    }
  }

  /** @throws XComError `E_NOT_FOUND` naming the URI when the key does not exist. */
  async get(key: string, options: GetOptions = {}): Promise<ObservableBody> {
    const info = await this.head(key)
    if (!info) throw notFound(this.url, key)
    const path = this.#path(key)
    const uri = uriOf(this.url, key)
    const { start, end } = resolveRange(options.range, info.size, uri)
    return {
      ...info,
      stream: () => fileStream(path, start, end, uri),
      bytes: () => readSpan(path, start, end, uri),
      bytesObserved: (observe: (part: Uint8Array) => void) => readSpan(path, start, end, uri, observe),
    } satisfies ObservableBody
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.#path(key)
    let stats: Awaited<ReturnType<typeof stat>>
    try {
      stats = await stat(path)
    } catch (error) {
      if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined
      throw fileError(error, 'Reading', uriOf(this.url, key))
    }
    if (!stats.isFile()) return undefined
    return {
      objectKey: key,
      size: stats.size,
      lastModified: stats.mtime,
      metadata: await this.#readMetadata(key),
    }
  }

  /** Deletes objects and their sidecars, then their empty directories. Missing keys are not failures. */
  async deleteMany(keys: readonly string[]): Promise<{ failed: { objectKey: string; error: XComError }[] }> {
    const failed: { objectKey: string; error: XComError }[] = []
    await forEachLimit(keys, 16, async (key) => {
      try {
        const path = this.#path(key)
        const metaPath = this.#path(key, 'meta')
        await rm(path, { force: true })
        await rm(metaPath, { force: true })
        await this.#prune(dirname(path), this.root)
        await this.#prune(dirname(metaPath), join(this.root, INTERNAL, 'meta'))
      } catch (error) {
        const mapped = fileError(error, 'Deleting', uriOf(this.url, key))
        failed.push({
          objectKey: key,
          error: XComError.is(mapped)
            ? mapped
            : new XComError('E_BACKEND', `Deleting ${uriOf(this.url, key)} failed.`, { cause: mapped }),
        })
      }
    })
    return { failed }
  }

  /** Every object whose key starts with `prefix`, walking directories in name order. */
  /**
   * Removes temporary files of writes that never finished (a killed process) and were last written before
   * `startedBefore`; a write still in progress keeps touching its file, so it is kept.
   */
  async removeIncomplete(startedBefore: Date): Promise<IncompleteReport> {
    const tmpDir = join(this.root, INTERNAL, 'tmp')
    const report: IncompleteReport = { removed: 0, failed: [] }
    let names: string[]
    try {
      names = await readdir(tmpDir)
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return report
      throw fileError(error, 'Listing the temporary files of', this.url)
    }
    await forEachLimit(names, 16, async (name) => {
      const path = join(tmpDir, name)
      try {
        const info = await stat(path)
        if (info.mtimeMs >= startedBefore.getTime()) return
        await rm(path, { force: true })
        if (!name.endsWith('.meta')) report.removed++
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') report.failed.push(pathToFileURL(path).href)
      }
    })
    return report
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* this.#walk(this.root, '', prefix)
  }

  async *#walk(dir: string, keyPrefix: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return
      throw fileError(error, 'Listing', uriOf(this.url, keyPrefix))
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const key = keyPrefix + entry.name
      if (keyPrefix === '' && entry.name === INTERNAL) continue
      if (entry.isDirectory()) {
        const dirKey = `${key}/`
        if (dirKey.startsWith(prefix) || prefix.startsWith(dirKey))
          yield* this.#walk(join(dir, entry.name), dirKey, prefix)
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const info = await this.head(key)
        if (info) yield info
      }
    }
  }

  async #writeBody(path: string, body: ByteSource, options: PutOptions): Promise<number> {
    const handle = await open(path, 'wx')
    let pending: Promise<void> | undefined
    let size = 0
    try {
      // One write in flight while the next chunk is produced (and hashed by the caller).
      for await (const chunk of chunksOf(body)) {
        options.signal?.throwIfAborted()
        if (pending) await pending
        pending = writeAll(handle, chunk)
        size += chunk.byteLength
        options.onProgress?.(size)
      }
      await pending
      pending = undefined
      options.signal?.throwIfAborted()
      if (this.#fsync) await handle.sync()
      return size
    } finally {
      await pending?.catch(() => {})
      await handle.close()
    }
  }

  async #readMetadata(key: string): Promise<Record<string, string>> {
    try {
      const sidecar = JSON.parse(await readFile(this.#path(key, 'meta'), 'utf8')) as { metadata?: unknown }
      const metadata = sidecar.metadata
      if (typeof metadata !== 'object' || metadata === null) return {}
      return Object.fromEntries(
        Object.entries(metadata).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
      )
    } catch {
      // No sidecar (a file put there by hand, or a write interrupted after placing the data) or an unreadable one.
      return {}
    }
  }

  /** Removes `dir` and its parents while they are empty, stopping at `stop`. */
  async #prune(dir: string, stop: string): Promise<void> {
    while (dir.startsWith(stop + sep) && dir !== stop) {
      try {
        await rmdir(dir)
      } catch {
        return // not empty, already gone, or in use: leave it
      }
      dir = dirname(dir)
    }
  }

  /**
   * The file of `key` (or of its sidecar): always inside the root.
   * @throws XComError `E_INVALID_KEY` for a key that is empty, has an empty, `.` or `..` segment, contains NUL (or `\`
   * on Windows), or starts with the reserved `.xcom` segment.
   */
  #path(key: string, tree?: 'meta'): string {
    const segments = checkObjectKey(this.url, key).split('/')
    // A drive letter or stream name would leave the root on Windows.
    if (segments[0] === INTERNAL || (sep === '\\' && segments.some((segment) => segment.includes(':')))) {
      throw new XComError(
        'E_INVALID_KEY',
        `Invalid object key ${JSON.stringify(key)} for ${this.url}: keys must not start with "${INTERNAL}/" (nor hold ":" on Windows).`,
      )
    }
    const base = tree === 'meta' ? join(this.root, INTERNAL, 'meta') : this.root
    const path = join(base, ...segments)
    if (!path.startsWith(base + sep))
      throw new XComError('E_INVALID_KEY', `Invalid object key ${JSON.stringify(key)} for ${this.url}.`)
    return path
  }
}

/** Attempts to place a file before a write gives up on a directory that keeps disappearing (see below). */
const PLACE_ATTEMPTS = 100

/**
 * Runs `place` (which moves or links `source` to `target`) after creating the parent directory of `target`. A
 * concurrent `deleteMany`, in this or another process, removes the directories it leaves empty, so a directory may
 * vanish between the two steps, or between the levels of the recursive mkdir: then both run again. Each lost race
 * needs a delete to remove the directory in that short window, and from the third attempt on a short random pause
 * lets deletes finish first; the bound only ends a directory that can never be made (e.g. behind a dangling link).
 */
async function placeInDirectory(target: string, source: string, place: () => Promise<void>): Promise<void> {
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

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset)
    offset += bytesWritten
  }
}

/** Bytes `[start, end)` of a file as a stream, reading ahead one chunk while the consumer works on the previous one. */
function fileStream(path: string, start: number, end: number, uri: string): ReadableStream<Uint8Array> {
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
          const buffer = length > 0 ? allocate(length) : undefined
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
async function readSpan(
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
    const out = allocate(end - start)
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

async function forEachLimit<T>(
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

function errnoOf(error: unknown): string | undefined {
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
