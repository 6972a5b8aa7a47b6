import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { MemoryMetadataStore, type MetadataStore, XCom, XComError, type XComRecord } from '@xcom/core'
import { afterEach, expect } from 'vitest'
import {
  CLAIM_KEY,
  FileObjectStore,
  ObjectStoreXComBackend,
  type ObjectStoreXComBackendOptions,
} from '../src/index.ts'

const dirs: string[] = []

/** A fresh temporary directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xcom-objectstore-'))
  dirs.push(dir)
  return dir
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** Every file under `dir`, relative, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = []
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) walk(path)
      else out.push(relative(dir, path))
    }
  }
  if (statSync(dir, { throwIfNoEntry: false })) walk(dir)
  return out.sort()
}

/** Value objects of a file store (sidecars, temporary files and the prefix's database claim excluded). */
export function objectFiles(root: string): string[] {
  return filesUnder(root).filter((path) => !path.startsWith('.xcom/') && path !== CLAIM_KEY)
}

/** Temporary files a file store left in its work directory. */
export function tmpFiles(root: string): string[] {
  return filesUnder(join(root, '.xcom', 'tmp'))
}

/** An XCom on a MemoryMetadataStore and a FileObjectStore in a temporary directory. */
export function fileXCom(
  options: Partial<ObjectStoreXComBackendOptions> = {},
  metadata: MetadataStore = new MemoryMetadataStore(),
) {
  const root = tempDir()
  const store = options.store ?? new FileObjectStore({ root })
  const backend = new ObjectStoreXComBackend({ threshold: 0, ...options, store })
  const xcom = new XCom({ metadata, backend })
  return { root, store, backend, xcom, metadata }
}

/** Deterministic pseudo-random bytes (incompressible). */
export function pattern(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size)
  let state = seed >>> 0 || 1
  for (let index = 0; index < size; index++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    bytes[index] = state & 0xff
  }
  return bytes
}

export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) yield bytes.slice(offset, offset + size)
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  const reader = stream.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

/** Every item of an async iterable (Array.fromAsync is not in the ES2024 library types). */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

/** Checks two byte arrays are equal (fast for large ones, where deep equality is slow). */
export function expectBytes(actual: unknown, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  const bytes = actual as Uint8Array
  expect(bytes.byteLength).toBe(expected.byteLength)
  expect(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(expected), 'bytes differ').toBe(
    true,
  )
}

/** Awaits a rejection and checks it is an XComError with `code`. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<XComError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a rejection with ${code}`)
    },
    (reason: unknown) => reason,
  )
  expect(XComError.is(error), String(error)).toBe(true)
  expect((error as XComError).code, (error as Error).message).toBe(code)
  return error as XComError
}

/** The reference a record holds. */
export function refOf(record: XComRecord) {
  if (record.value.kind !== 'reference')
    throw new Error(`expected a reference, got ${JSON.stringify(record.value)}`)
  return record.value.ref as Record<string, any> & { uri: string; key: string }
}

export const ID = { dagId: 'dag', runId: 'run', taskId: 'task' } as const
