import { XComError } from '@xcom/core'

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
    { uri },
  )
}
