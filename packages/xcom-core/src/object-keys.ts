import { XComError } from './errors.ts'

/**
 * Refuses object keys that a store, an SDK or a server could resolve to another object: empty, absolute, with an
 * empty, `.` or `..` segment, a backslash (some servers read it as `/`) or a control character. Every
 * {@link ObjectStore} calls it on every key it is given, so a forged key cannot leave its XCom on any store.
 * @throws XComError `E_INVALID_KEY` naming the store and the key.
 */
export function checkObjectKey(storeUrl: string, key: unknown): string {
  const why = objectKeyProblem(key)
  if (why !== undefined) {
    throw new XComError(
      'E_INVALID_KEY',
      `Refusing the object key ${JSON.stringify(typeof key === 'string' ? key.slice(0, 200) : key)} for ${storeUrl}: ${why}. Object keys are relative, '/'-separated paths without empty, "." or ".." segments.`,
      { uri: storeUrl },
    )
  }
  return key as string
}

/** Why `key` is not a safe object key, or undefined when it is. */
function objectKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') return 'it is not a non-empty string'
  // Control characters and backslashes are refused outright: no key xcom builds holds one.
  if (/[\u0000-\u001f\u007f\\]/.test(key)) return 'it holds a control character or a backslash'
  for (const segment of key.split('/')) {
    if (segment === '') return 'it has an empty segment (a leading, trailing or doubled "/")'
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`
  }
  return undefined
}

/**
 * The full name of `key` under a store's own prefix (`<prefix>/<key>`), after {@link checkObjectKey}: what cloud
 * adapters send, so an SDK or server that resolves dot segments never sees a forged key.
 * @throws XComError `E_INVALID_KEY` naming the store and the key.
 */
export function prefixedKey(storeUrl: string, prefix: string, key: string): string {
  const checked = checkObjectKey(storeUrl, key)
  return prefix ? `${prefix}/${checked}` : checked
}

/**
 * The full name prefix of a `list(listPrefix)` under a store's own prefix: `""` lists everything; any other list
 * prefix must be a valid key, or one followed by a single `/` (a "directory").
 * @throws XComError `E_INVALID_KEY` for a list prefix with an empty, `.` or `..` segment.
 */
export function prefixedListPrefix(storeUrl: string, prefix: string, listPrefix: string): string {
  if (listPrefix !== '')
    checkObjectKey(storeUrl, listPrefix.endsWith('/') ? listPrefix.slice(0, -1) : listPrefix)
  return prefix ? `${prefix}/${listPrefix}` : listPrefix
}
