/**
 * Azure metadata names must be C# identifiers, are case-insensitive, and come back lowercased from a HEAD request, so
 * xcom's metadata keys (lowercase ASCII such as `xcom-dag-id`) are mapped reversibly:
 *
 * - a key made of lowercase words of `[a-z0-9]` joined by single `-`, starting with a letter (`xcom-dag-id`), is stored
 *   with each `-` replaced by `_` (`xcom_dag_id`): readable in the portal, and never starting with `_`;
 * - any other key (with `_`, `.`, uppercase, a leading digit, ...) is stored as `__` followed by the lowercase hex of
 *   its UTF-8 bytes (`a_b` -> `__615f62`).
 *
 * Reading reverses this: a name starting with `__` is hex-decoded, any other has its `_` turned back into `-`. Metadata
 * written by other tools is read the same way (`hdi_isfolder` reads as `hdi-isfolder`).
 */

const SIMPLE_KEY = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/
const HEX_NAME = /^__(?:[0-9a-f]{2})+$/

/** The Azure metadata name that stores the xcom metadata key `key`. */
export function encodeMetadataName(key: string): string {
  if (SIMPLE_KEY.test(key)) return key.replaceAll('-', '_')
  return `__${Buffer.from(key, 'utf8').toString('hex')}`
}

/** The xcom metadata key an Azure metadata name stores (inverse of {@link encodeMetadataName}). */
export function decodeMetadataName(name: string): string {
  const lower = name.toLowerCase()
  if (HEX_NAME.test(lower)) return Buffer.from(lower.slice(2), 'hex').toString('utf8')
  return lower.replaceAll('_', '-')
}

/** Azure metadata for xcom metadata (undefined when there is none). */
export function encodeMetadata(
  metadata: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (metadata === undefined) return undefined
  const entries = Object.entries(metadata)
  return entries.length === 0
    ? undefined
    : Object.fromEntries(entries.map(([key, value]) => [encodeMetadataName(key), value]))
}

/** xcom metadata from Azure metadata as the SDK returns it. */
export function decodeMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  // fromEntries defines own properties, so a name decoding to `__proto__` cannot touch the prototype.
  return Object.fromEntries(
    Object.entries(metadata ?? {}).map(([name, value]) => [decodeMetadataName(name), value]),
  )
}
