// The values of rotation-processes.test.ts and its workers: each names its identity and version and carries a
// SHA-256 of itself, so any pulled value can be checked for being whole and for the identity it was read from.
import { createHash, randomBytes } from 'node:crypto'

/** XComs seeded, then pulled by every worker and pushed by their owner (index % workers). */
export const IDENTITIES = 40
/** Values up to this size stay in PostgreSQL (sealed by XCOM_ENCRYPTION_INLINE), larger ones go to the store. */
export const THRESHOLD = 4096

/** What a worker tells the parent. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'pushed'; index: number; version: number }
  | { type: 'pulled'; index: number; version: number }
  | { type: 'failed'; op: 'push' | 'pull'; index: number; error: string }
  | { type: 'done'; pulls: number; pushes: number }

export function identityOf(index: number) {
  return { dagId: 'rotation', runId: 'r1', taskId: `task_${index}` }
}

/** By index % 4: 1-3 MiB of bytes (object), a few hundred bytes (inline), small JSON (inline), ~40 KB of JSON (object, gzip). */
export function kindOf(index: number): 'big' | 'small-bytes' | 'small-json' | 'json' {
  return (['big', 'small-bytes', 'small-json', 'json'] as const)[index % 4] as
    | 'big'
    | 'small-bytes'
    | 'small-json'
    | 'json'
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest()

/** A new value for `index` at `version`; `random` picks the size. */
export function encodeValue(index: number, version: number, random: () => number): unknown {
  const kind = kindOf(index)
  if (kind === 'big' || kind === 'small-bytes') {
    const size =
      kind === 'big' ? 1_048_576 + Math.floor(random() * 2 * 1_048_576) : 100 + Math.floor(random() * 400)
    const body = Buffer.alloc(8 + size + 32)
    body.writeUInt32BE(index, 0)
    body.writeUInt32BE(version, 4)
    randomBytes(size).copy(body, 8)
    sha256(body.subarray(0, 8 + size)).copy(body, 8 + size)
    return body
  }
  const rows = Array.from({ length: kind === 'json' ? 1000 + Math.floor(random() * 500) : 3 }, (_, row) => ({
    row,
    text: `version ${version} of ${index}`,
  }))
  return { index, version, rows, sum: sha256(JSON.stringify({ index, version, rows })).toString('hex') }
}

/**
 * The version of a value pulled from `index`.
 * @throws Error when it is not a whole value written for `index`.
 */
export function decodeValue(index: number, value: unknown): number {
  const kind = kindOf(index)
  if (kind === 'big' || kind === 'small-bytes') {
    if (!(value instanceof Uint8Array))
      throw new Error(`pulled ${typeof value} from ${index}, expected bytes`)
    const body = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    if (
      body.length < 40 ||
      !sha256(body.subarray(0, body.length - 32)).equals(body.subarray(body.length - 32))
    )
      throw new Error(`pulled ${body.length} damaged bytes from ${index}`)
    if (body.readUInt32BE(0) !== index)
      throw new Error(`pulled the value of ${body.readUInt32BE(0)} from ${index}`)
    return body.readUInt32BE(4)
  }
  const { sum, ...rest } = value as { index: number; version: number; rows: unknown[]; sum: string }
  if (sha256(JSON.stringify(rest)).toString('hex') !== sum)
    throw new Error(`pulled damaged JSON from ${index}`)
  if (rest.index !== index) throw new Error(`pulled the value of ${rest.index} from ${index}`)
  return rest.version
}
