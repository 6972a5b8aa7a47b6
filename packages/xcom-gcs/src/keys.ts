import { checkObjectKey } from '@xcom/core'

/**
 * The object name of a key under the store's prefix, after core's `checkObjectKey`: a forged `<key>/../../<other>`
 * must never reach a server (or a proxy) that could resolve it to another object.
 * @throws XComError `E_INVALID_KEY` naming the store and the key.
 */
export function objectNameOf(storeUrl: string, prefix: string, key: string): string {
  const checked = checkObjectKey(storeUrl, key)
  return prefix ? `${prefix}/${checked}` : checked
}

/**
 * The object name prefix of a `list` prefix: `""` lists everything; any other prefix must be a valid key, or one
 * followed by a single `/` (a "directory").
 * @throws XComError `E_INVALID_KEY` for a prefix with an empty, `.` or `..` segment.
 */
export function listPrefixOf(storeUrl: string, prefix: string, listPrefix: string): string {
  if (listPrefix !== '') {
    // One trailing '/' asks for a "directory"; the rest must be a key a store could hold.
    const trimmed =
      typeof listPrefix === 'string' && listPrefix.endsWith('/') ? listPrefix.slice(0, -1) : listPrefix
    checkObjectKey(storeUrl, trimmed)
  }
  return prefix ? `${prefix}/${listPrefix}` : listPrefix
}
