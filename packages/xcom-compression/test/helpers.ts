import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Bytes } from '@xcom/core'
import { toReadableStream } from '@xcom/core/adapter'
import { chunked, readAll, sourceNodeFlags } from '@xcom/testing'
import { afterAll, expect } from 'vitest'
import { hasZstd, nodeZlib, readsConcatenatedZstd } from '../src/runtime.ts'
import type { FrameFeed } from '../src/zstd.ts'

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

/** Writes `input` in chunks of `chunkSize` through a transform while reading it; resolves with the output. */
export function pump(
  transform: TransformStream<Bytes, Bytes>,
  input: Bytes,
  chunkSize = 64 * 1024,
): Promise<Bytes> {
  return readAll(toReadableStream(chunked(input, chunkSize)).pipeThrough(transform))
}

/**
 * Runs `test/fixtures/<fixture>` in a fresh Node.js process (so that what it measures is its own), with `nodeFlags`
 * before the flags that reach this workspace's sources, and parses the JSON it prints.
 */
export async function runFixture<T>(
  fixture: string,
  args: readonly string[],
  options: { nodeFlags?: readonly string[]; timeout: number },
): Promise<T> {
  const file = fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url))
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...(options.nodeFlags ?? []), ...sourceNodeFlags(), '--no-warnings', file, ...args],
    { timeout: options.timeout },
  )
  return JSON.parse(stdout) as T
}

/** The ways zstd decompression can feed frames to node:zlib (see `FrameFeed`). */
export const ZSTD_FEEDS: readonly FrameFeed[] = ['apart', 'together']

/** Whether this runtime can run the zstd `feed`: `together` needs a decoder that reads on past the end of a frame. */
export function runsZstdFeed(feed: FrameFeed): boolean {
  const zlib = nodeZlib()
  return hasZstd(zlib) && (feed === 'apart' || readsConcatenatedZstd(zlib))
}
