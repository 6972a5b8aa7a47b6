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
import { link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  type ByteSource,
  type GetOptions,
  type IncompleteReport,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  XComError,
} from '@xcom/core'
import { checkObjectKey, resolveRange } from '@xcom/core/adapter'
import { chunksOf } from './bytes.ts'
import {
  errnoOf,
  fileError,
  fileStream,
  forEachLimit,
  placeInDirectory,
  readSpan,
  writeAll,
} from './file-io.ts'
import { alreadyExists, notFound, uriOf } from './store-util.ts'

/** Options of {@link FileObjectStore}. */
export interface FileObjectStoreOptions {
  /** The directory objects live under; created on the first write. Relative paths resolve against the working directory. */
  root: string
  /** Flush each object to disk (`fsync`) before it becomes visible: durable across power loss, slower. @default false */
  fsync?: boolean
}

/** The directory under the root that holds sidecars and temporary files. */
const INTERNAL = '.xcom'

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
  async put(objectKey: string, body: ByteSource, options: PutOptions = {}): Promise<{ size: number }> {
    const target = this.#path(objectKey)
    const metaTarget = this.#path(objectKey, 'meta')
    options.signal?.throwIfAborted()
    const tmpDir = join(this.root, INTERNAL, 'tmp')
    const tmp = join(tmpDir, randomUUID())
    const metaTmp = `${tmp}.meta`
    await mkdir(tmpDir, { recursive: true }).catch((error: unknown) => {
      throw rootUnusable(error, this.root, uriOf(this.url, objectKey))
    })
    try {
      const size = await this.#writeBody(tmp, body, options)
      await writeFile(
        metaTmp,
        JSON.stringify({ metadata: options.metadata ?? {}, contentType: options.contentType }),
      )
      if (options.ifNoneMatch) {
        await placeInDirectory(target, tmp, () =>
          link(tmp, target).catch((error: unknown) => {
            throw errnoOf(error) === 'EEXIST' ? alreadyExists(this.url, objectKey) : error
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
      // A failed cleanup must not hide why the write failed; gc's removeIncomplete collects what stays behind.
      await Promise.all([rm(tmp, { force: true }), rm(metaTmp, { force: true })]).catch(() => {})
      throw fileError(error, 'Writing', uriOf(this.url, objectKey))
    }
  }

  /**
   * The object's info and body; the body has `bytesObserved`, so a reader can hash each part while the next is read.
   * @throws XComError `E_NOT_FOUND` naming the URI when the key does not exist.
   */
  async get(objectKey: string, options: GetOptions = {}): Promise<Required<ObjectBody>> {
    const info = await this.head(objectKey)
    if (!info) throw notFound(this.url, objectKey)
    const path = this.#path(objectKey)
    const uri = uriOf(this.url, objectKey)
    const { start, end } = resolveRange(options.range, info.size, uri)
    return {
      ...info,
      stream: () => fileStream(path, start, end, uri),
      bytes: () => readSpan(path, start, end, uri),
      bytesObserved: (observe: (part: Uint8Array) => void) => readSpan(path, start, end, uri, observe),
    }
  }

  /** The object's size, modification time and sidecar metadata; undefined when there is no such file. */
  async head(objectKey: string): Promise<ObjectInfo | undefined> {
    const path = this.#path(objectKey)
    let stats: Awaited<ReturnType<typeof stat>>
    try {
      stats = await stat(path)
    } catch (error) {
      if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined
      throw fileError(error, 'Reading', uriOf(this.url, objectKey))
    }
    if (!stats.isFile()) return undefined
    return {
      objectKey,
      size: stats.size,
      lastModified: stats.mtime,
      metadata: await this.#readMetadata(objectKey),
    }
  }

  /** Deletes objects and their sidecars, then their empty directories. Missing keys are not failures. */
  async deleteMany(
    objectKeys: readonly string[],
  ): Promise<{ failed: { objectKey: string; error: XComError }[] }> {
    const failed: { objectKey: string; error: XComError }[] = []
    await forEachLimit(objectKeys, 16, async (objectKey) => {
      try {
        const path = this.#path(objectKey)
        const metaPath = this.#path(objectKey, 'meta')
        await rm(path, { force: true })
        await rm(metaPath, { force: true })
        await this.#prune(dirname(path), this.root)
        await this.#prune(dirname(metaPath), join(this.root, INTERNAL, 'meta'))
      } catch (error) {
        const mapped = fileError(error, 'Deleting', uriOf(this.url, objectKey))
        failed.push({
          objectKey,
          error: XComError.is(mapped)
            ? mapped
            : new XComError('E_BACKEND', `Deleting ${uriOf(this.url, objectKey)} failed.`, { cause: mapped }),
        })
      }
    })
    return { failed }
  }

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

  /** Every object whose key starts with `prefix`, walking directories in name order. */
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
      const objectKey = keyPrefix + entry.name
      if (keyPrefix === '' && entry.name === INTERNAL) continue
      if (entry.isDirectory()) {
        const dirKey = `${objectKey}/`
        if (dirKey.startsWith(prefix) || prefix.startsWith(dirKey))
          yield* this.#walk(join(dir, entry.name), dirKey, prefix)
      } else if (entry.isFile() && objectKey.startsWith(prefix)) {
        const info = await this.head(objectKey)
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

  async #readMetadata(objectKey: string): Promise<Record<string, string>> {
    try {
      const sidecar = JSON.parse(await readFile(this.#path(objectKey, 'meta'), 'utf8')) as {
        metadata?: unknown
      }
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
  #path(objectKey: string, tree?: 'meta'): string {
    const segments = checkObjectKey(this.url, objectKey).split('/')
    // A drive letter or stream name would leave the root on Windows.
    if (segments[0] === INTERNAL || (sep === '\\' && segments.some((segment) => segment.includes(':')))) {
      throw new XComError(
        'E_INVALID_KEY',
        `Invalid object key ${JSON.stringify(objectKey)} for ${this.url}: keys must not start with "${INTERNAL}/" (nor hold ":" on Windows).`,
      )
    }
    const base = tree === 'meta' ? join(this.root, INTERNAL, 'meta') : this.root
    const path = join(base, ...segments)
    if (!path.startsWith(base + sep))
      throw new XComError('E_INVALID_KEY', `Invalid object key ${JSON.stringify(objectKey)} for ${this.url}.`)
    return path
  }
}

/**
 * `E_CONFIG` when the store's own folders cannot be made: the root (or a folder above it) is a file or cannot be
 * written. Any other error is mapped as a write error of `uri`.
 */
function rootUnusable(error: unknown, root: string, uri: string): unknown {
  const code = errnoOf(error)
  if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new XComError(
      'E_CONFIG',
      `Writing ${uri} failed: the store's root ${root} cannot hold folders (${code}: a file is in its way or it is not writable). Point the store at a writable directory.`,
      { cause: error, uri },
    )
  }
  return fileError(error, 'Writing', uri)
}
