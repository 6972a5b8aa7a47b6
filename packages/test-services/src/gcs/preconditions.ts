import { GcsError } from './http.ts'

/** The generation preconditions of a request (`ifGenerationMatch=0` means "only if the object does not exist"). */
export interface Preconditions {
  ifGenerationMatch?: bigint
  ifGenerationNotMatch?: bigint
  ifMetagenerationMatch?: bigint
  ifMetagenerationNotMatch?: bigint
}

const NAMES = [
  'ifGenerationMatch',
  'ifGenerationNotMatch',
  'ifMetagenerationMatch',
  'ifMetagenerationNotMatch',
] as const

/** Reads the preconditions from the query. @throws GcsError 400 when one is not a non-negative integer */
export function parsePreconditions(query: URLSearchParams): Preconditions {
  const conditions: Preconditions = {}
  for (const key of NAMES) {
    const value = query.get(key)
    if (value === null) continue
    if (!/^\d+$/.test(value)) throw new GcsError(400, 'invalid', `Invalid value for ${key}: ${value}`)
    conditions[key] = BigInt(value)
  }
  return conditions
}

/**
 * Checks preconditions against the live object, or its absence (generation 0). Reads answer a failed `NotMatch` with
 * 304, as GCS does for conditional GETs; writes answer every failure with 412.
 *
 * @throws GcsError 412 `conditionNotMet`, or 304 `notModified` when `read`
 */
export function checkPreconditions(
  conditions: Preconditions,
  object: { generation: string; metageneration: number } | undefined,
  read = false,
): void {
  const generation = object ? BigInt(object.generation) : 0n
  const failed = (): GcsError =>
    new GcsError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.')
  if (conditions.ifGenerationMatch !== undefined && generation !== conditions.ifGenerationMatch)
    throw failed()
  if (conditions.ifMetagenerationMatch !== undefined) {
    if (!object || BigInt(object.metageneration) !== conditions.ifMetagenerationMatch) throw failed()
  }
  const notModified = (): GcsError => (read ? new GcsError(304, 'notModified', 'Not Modified') : failed())
  if (conditions.ifGenerationNotMatch !== undefined && generation === conditions.ifGenerationNotMatch) {
    throw notModified()
  }
  if (
    conditions.ifMetagenerationNotMatch !== undefined &&
    object &&
    BigInt(object.metageneration) === conditions.ifMetagenerationNotMatch
  ) {
    throw notModified()
  }
}
