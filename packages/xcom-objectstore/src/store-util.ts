import { type GetOptions, XComError } from '@xcom/core'

/** The URI of `key` inside a store: `<store url>/<key>`. */
export function uriOf(storeUrl: string, key: string): string {
  return `${storeUrl.replace(/\/+$/, '')}/${key}`
}

/** `E_NOT_FOUND` for a missing object, naming its URI. */
export function notFound(storeUrl: string, key: string): XComError {
  const uri = uriOf(storeUrl, key)
  return new XComError('E_NOT_FOUND', `No object at ${uri}: it was never written or has been deleted.`, {
    uri,
  })
}

/** `E_PRECONDITION_FAILED` for a conditional create of a key that exists. */
export function alreadyExists(storeUrl: string, key: string): XComError {
  const uri = uriOf(storeUrl, key)
  return new XComError(
    'E_PRECONDITION_FAILED',
    `Not writing ${uri}: an object already exists there and the write asked for a new one.`,
    {
      uri,
    },
  )
}

/**
 * The byte span `[start, end)` a `range` option selects in an object of `size` bytes (`end` of the option is
 * inclusive; a range past the end is cut at the end).
 * @throws XComError `E_INVALID_KEY` for a negative or reversed range.
 */
export function resolveRange(
  range: GetOptions['range'],
  size: number,
  uri: string,
): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size }
  const { start, end } = range
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (end !== undefined && (!Number.isSafeInteger(end) || end < start))
  ) {
    throw new XComError(
      'E_INVALID_KEY',
      `Invalid range ${JSON.stringify(range)} reading ${uri}: use { start >= 0, end >= start } (end inclusive).`,
      {
        uri,
      },
    )
  }
  return { start: Math.min(start, size), end: Math.min(end === undefined ? size : end + 1, size) }
}
