import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Bytes } from '@xcom/core'
import { XComError } from '@xcom/core'
import { afterAll, expect } from 'vitest'
import { hasZstd, nodeZlib, readsConcatenatedZstd } from '../src/runtime.ts'
import type { FrameFeed } from '../src/zstd.ts'

/** Deterministic pseudo-random bytes (xorshift32). */
export function randomBytes(length: number, seed = 1): Bytes {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** About `size` bytes of JSON records. */
export function jsonRecords(size: number, seed = 0): Bytes {
  const rows: string[] = []
  let length = 2
  for (let i = 0; length < size; i++) {
    const row = JSON.stringify({
      id: i + seed,
      dag: 'etl',
      task: `t${i % 13}`,
      value: (i * 2654435761) % 1e6,
    })
    rows.push(row)
    length += row.length + 1
  }
  return new TextEncoder().encode(`[${rows.join(',')}]`)
}

/**
 * Whether a command-line tool exists. Missing under CI=true is a failure (the CI script installs it); locally the
 * tests that need it are skipped with a loud warning.
 */
export function hasTool(tool: string, debianPackage: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0) return true
  const message = `${tool} is not installed (Debian package "${debianPackage}"): its interop tests cannot run`
  if (process.env.CI === 'true') throw new Error(`${message}; the CI script must install it`)
  console.warn(
    `\n!!! WARNING: ${message}; skipping them. Install it with: apt-get install -y ${debianPackage}\n`,
  )
  return false
}

/** Runs a tool; returns its stdout, throws (with stderr) on a non-zero exit. */
export function run(tool: string, args: string[], input?: Bytes): Bytes {
  return execFileSync(tool, args, { input, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** A temporary directory removed after the file's tests. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xcom-compression-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Asserts byte equality without printing megabytes on failure. */
export function expectBytes(actual: Bytes, expected: Bytes): void {
  expect(actual.byteLength).toBe(expected.byteLength)
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected))).toBe(0)
}

/** Asserts that a promise rejects with an XComError of this code; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<XComError> {
  let failure: unknown
  try {
    await promise
  } catch (error) {
    failure = error
  }
  expect(XComError.is(failure) ? failure.code : failure).toBe(code)
  return failure as XComError
}

/** Writes `input` in chunks through a transform while reading it; resolves with the output. */
export async function pump(transform: TransformStream<Bytes, Bytes>, input: Bytes, chunkSize = 64 * 1024) {
  const source = new ReadableStream<Bytes>({
    start(controller) {
      for (let offset = 0; offset < input.byteLength; offset += chunkSize) {
        controller.enqueue(input.subarray(offset, offset + chunkSize))
      }
      controller.close()
    },
  })
  const chunks: Bytes[] = []
  const reader = source.pipeThrough(transform).getReader()
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value)
  return new Uint8Array(Buffer.concat(chunks))
}

/** The ways zstd decompression can feed frames to node:zlib (see `FrameFeed`). */
export const ZSTD_FEEDS: readonly FrameFeed[] = ['apart', 'together']

/** Whether this runtime can run the zstd `feed`: `together` needs a decoder that reads on past the end of a frame. */
export function runsZstdFeed(feed: FrameFeed): boolean {
  const zlib = nodeZlib()
  return hasZstd(zlib) && (feed === 'apart' || readsConcatenatedZstd(zlib))
}
