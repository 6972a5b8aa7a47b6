import { XComError } from '@xcom/core'

/**
 * The URI of `key` inside a store: `<store url>/<key>`. A `file:` URL is a real URL, so each segment of the key is
 * percent-encoded there (a key's `%20` is `%2520`, and `fileURLToPath` gives the file's path); the other schemes
 * name keys as they are, as their own tools do (`aws s3 cp s3://bucket/a%20b` means the key `a%20b`).
 */
export function uriOf(storeUrl: string, key: string): string {
  const path = storeUrl.startsWith('file:') ? key.split('/').map(encodeURIComponent).join('/') : key
  return `${storeUrl.replace(/\/+$/, '')}/${path}`
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
    { uri },
  )
}
