import type { ObjectStore } from '@xcom/core'
import { expect } from 'vitest'
import { expectXComError } from './test-data.ts'

/**
 * Object keys every store refuses with `E_INVALID_KEY` before any request: empty, `.` and `..` segments, absolute
 * keys, a trailing `/` and backslashes (SDKs and servers resolve them to other objects, or other buckets).
 */
export const MALFORMED_OBJECT_KEYS: readonly string[] = [
  '',
  '.',
  '..',
  '/dag/own.json',
  'dag//own.json',
  'dag/./own.json',
  'dag/own.json/',
  'a\\b',
]

/** `head` and `put` of each of {@link MALFORMED_OBJECT_KEYS} fail with `E_INVALID_KEY` (check the store after it). */
export async function expectMalformedKeysRefused(store: ObjectStore): Promise<void> {
  for (const key of MALFORMED_OBJECT_KEYS) {
    await expectXComError(store.head(key), 'E_INVALID_KEY')
    await expectXComError(store.put(key, new TextEncoder().encode('x')), 'E_INVALID_KEY')
  }
}

/**
 * With `ownKey` (two segments, e.g. `dag/own.json`) the only object under the store's prefix: listing `''`, its
 * directory and a part of its name finds exactly it, and every forged prefix (`../`, `dag/../`, `dag//`, `/`,
 * `./dag` and the store's own `forged` ones aiming at other objects) is refused with `E_INVALID_KEY`.
 */
export async function expectListPrefixesChecked(
  store: ObjectStore,
  ownKey: string,
  forged: readonly string[],
): Promise<void> {
  const listed = async (prefix: string) => {
    const found: string[] = []
    for await (const info of store.list(prefix)) found.push(info.objectKey)
    return found
  }
  const directory = ownKey.slice(0, ownKey.lastIndexOf('/') + 1)
  for (const prefix of ['', directory, ownKey.slice(0, directory.length + 2)])
    expect(await listed(prefix), `list(${JSON.stringify(prefix)})`).toEqual([ownKey])
  for (const prefix of ['../', ...forged, `${directory}../`, `${directory}/`, '/', `./${directory}`])
    await expectXComError(listed(prefix), 'E_INVALID_KEY')
}
