import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { MemoryMetadataStore, type MetadataStore, XCom, type XComRecord } from '@xcom/core'
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

/** The reference a record holds. */
export function refOf(record: XComRecord) {
  if (record.value.kind !== 'reference')
    throw new Error(`expected a reference, got ${JSON.stringify(record.value)}`)
  return record.value.ref as Record<string, any> & { uri: string; objectKey: string }
}

/** The identity most tests push to. */
export const ID = { dagId: 'dag', runId: 'run', taskId: 'task' } as const
