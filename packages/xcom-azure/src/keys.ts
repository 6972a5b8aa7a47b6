import { checkObjectKey } from '@xcom/core'

/**
 * The blob name of an object key under the store's prefix, after core's `checkObjectKey`: the SDK resolves `.` and
 * `..` segments before sending, so an unchecked `<key>/../../<other>` would reach blobs of other keys or containers.
 * @throws XComError `E_INVALID_KEY` naming the store and the key.
 */
export function blobNameOf(storeUrl: string, prefix: string, key: string): string {
  const checked = checkObjectKey(storeUrl, key)
  return prefix ? `${prefix}/${checked}` : checked
}

/**
 * The blob name prefix of a `list` prefix: `""` lists everything; any other prefix must be a valid key, or one
 * followed by a single `/` (a "directory").
 * @throws XComError `E_INVALID_KEY` for a prefix with an empty, `.` or `..` segment.
 */
export function blobPrefixOf(storeUrl: string, prefix: string, listPrefix: string): string {
  if (listPrefix !== '') {
    // One trailing '/' asks for a "directory"; the rest must be a key a store could hold.
    const trimmed =
      typeof listPrefix === 'string' && listPrefix.endsWith('/') ? listPrefix.slice(0, -1) : listPrefix
    checkObjectKey(storeUrl, trimmed)
  }
  return prefix ? `${prefix}/${listPrefix}` : listPrefix
}
