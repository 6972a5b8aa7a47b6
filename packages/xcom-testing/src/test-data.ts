import { XComError, type XComErrorCode } from '@xcom/core'
import { concatBytes } from '@xcom/core/adapter'
import { expect } from 'vitest'

/** Deterministic pseudo-random bytes (xorshift32 from `seed`): incompressible, and the same on every run. */
export function randomBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size)
  let state = seed >>> 0 || 1
  for (let index = 0; index < size; index++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    out[index] = state & 0xff
  }
  return out
}

/** About `size` bytes (at least) of a JSON array of records: redundant like real XCom values, the same on every run. */
export function jsonRecords(size: number, seed = 0): Uint8Array {
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

/** `bytes` as an async iterable of copied chunks, their sizes taken in turn from `sizes`. */
export async function* chunked(
  bytes: Uint8Array,
  sizes: number | readonly number[],
): AsyncGenerator<Uint8Array> {
  const turns = typeof sizes === 'number' ? [sizes] : sizes
  let offset = 0
  for (let turn = 0; offset < bytes.byteLength; turn++) {
    const size = turns[turn % turns.length] as number
    yield bytes.slice(offset, offset + size)
    offset += size
  }
}

/** Every byte of a web stream, in one buffer. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  const reader = stream.getReader()
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value)
  return chunks.length === 0 ? new Uint8Array(0) : new Uint8Array(concatBytes(chunks))
}

/** Checks that `actual` is a Uint8Array holding exactly the bytes of `expected`, without printing megabytes when not. */
export function expectBytes(actual: unknown, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  const bytes = actual as Uint8Array
  expect(bytes.byteLength, 'byte length').toBe(expected.byteLength)
  expect(Buffer.compare(bytes, expected) === 0, 'the bytes differ').toBe(true)
}

/**
 * Awaits `promise` (or calls `run` and awaits what it returns), which must fail with an {@link XComError} of `code`;
 * returns that error for further checks.
 */
export async function expectXComError(
  promise: Promise<unknown> | (() => unknown),
  code: XComErrorCode,
): Promise<XComError> {
  const error = await (async () => (typeof promise === 'function' ? promise() : promise))().then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(XComError.is(error), `expected an XComError ${code}, got ${String(error)}`).toBe(true)
  expect((error as XComError).code, (error as XComError).message).toBe(code)
  return error as XComError
}
