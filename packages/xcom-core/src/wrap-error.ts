import type { XComKey } from './contracts.ts'
import { XComError } from './errors.ts'
import { formatIdentity } from './identity.ts'

/** Names the XCom in an error: an XComError keeps its code; anything else becomes `E_BACKEND`. */
export function wrap(error: unknown, action: string, key: XComKey): XComError {
  const xcom = formatIdentity(key)
  if (XComError.is(error)) {
    if (error.xcom !== undefined) return error
    return new XComError(error.code, `${capitalize(action)} XCom ${xcom}: ${error.message}`, {
      cause: error.cause ?? error,
      xcom,
      uri: error.uri,
      path: error.path,
    })
  }
  return new XComError(
    'E_BACKEND',
    `${capitalize(action)} XCom ${xcom} failed: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
      xcom,
    },
  )
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
