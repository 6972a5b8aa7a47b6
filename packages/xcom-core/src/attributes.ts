import type { StoredValue, XComIdentity } from './contracts.ts'
import { XCOM_RETURN_KEY } from './identity.ts'
import type { Attributes } from './telemetry.ts'

/** The span attributes naming an XCom (defaults applied as `resolveIdentity` would, without validating). */
export function identityAttributes(identity: XComIdentity): Attributes {
  return {
    'xcom.dag_id': identity?.dagId,
    'xcom.run_id': identity?.runId,
    'xcom.task_id': identity?.taskId,
    'xcom.map_index': identity?.mapIndex ?? -1,
    'xcom.key': identity?.key ?? XCOM_RETURN_KEY,
  }
}

/**
 * Where a stored value lives and what it costs: inline, or the store's scheme and bucket (read from the reference's
 * URI, which carries no secret), its stored size, codec and checksum algorithm when the backend records them.
 */
export function storedAttributes(stored: StoredValue): Attributes {
  if (stored.kind !== 'reference') return { 'xcom.location': stored.kind, 'xcom.value.size': stored.size }
  const { ref } = stored
  return {
    'xcom.location': 'object_storage',
    'xcom.value.size': stored.size,
    ...storageAttributes(ref.uri),
    'xcom.value.stored_size': typeof ref.storedSize === 'number' ? ref.storedSize : undefined,
    'xcom.codec': typeof ref.codec === 'string' ? ref.codec : undefined,
    'xcom.checksum.algorithm':
      typeof ref.checksum === 'string' && ref.checksum.includes(':') ? ref.checksum.split(':')[0] : undefined,
  }
}

/**
 * Where an object storage URI (or a store's URL) points, as span attributes: its scheme and bucket (the host part
 * after any `conn_id@`), never the rest: a URI that is not `scheme://...` gives none.
 */
export function storageAttributes(uri: string): Attributes {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)/i.exec(uri)
  if (!match) return {}
  const host = match[2] ?? ''
  return {
    'xcom.storage.scheme': match[1]?.toLowerCase(),
    'xcom.storage.bucket': host.slice(host.lastIndexOf('@') + 1) || undefined,
  }
}
