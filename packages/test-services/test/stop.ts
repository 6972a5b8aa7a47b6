import { existsSync } from 'node:fs'
import { expect } from 'vitest'

/**
 * Checks a launcher's stop contract: `stop()` may be called twice, removes the service's directory, and the service
 * no longer answers at `url`.
 */
export async function expectCleanStop(
  handle: { stop(): Promise<void> },
  directory: string,
  url: string,
): Promise<void> {
  expect(existsSync(directory)).toBe(true)
  await handle.stop()
  await handle.stop()
  expect(existsSync(directory)).toBe(false)
  await expect(fetch(url)).rejects.toThrow()
}
