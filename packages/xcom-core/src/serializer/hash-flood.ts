/*
 * V8 hashes number and bigint keys of Maps and Sets without a random seed (strings and objects are seeded), so keys
 * crafted to share one hash bucket make building the collection take quadratic time. Before a Map or Set is built
 * from stored data, this replays V8's bucket layout for those keys and reports when building would walk far more
 * than a few entries per key. Should V8 change its hashes, the check only stops catching crafted keys: ordinary keys
 * are spread by any hash, so they are never refused.
 */

/** Why a Map or Set is refused when its keys would collide in V8's hash tables. */
export const CROWDED_KEYS =
  'a collection whose number or bigint keys spread over a hash table (they collide as if crafted to, which would make reading it take quadratic time)'

/** Collections this small cannot cost much, however their keys collide. */
const SMALL = 256
/** Chain entries V8 may walk per key, on average, before the keys count as crafted; random keys walk about one. */
const STEPS_PER_KEY = 8

/** Whether building a Map or Set from these keys, in this order, would walk long hash chains in V8. */
export function crowdedKeys(keys: readonly unknown[]): boolean {
  if (keys.length <= SMALL) return false
  // Repeated keys look crowded but cost V8 nothing: only keys still crowded once repeats are dropped are refused.
  return walksLongChains(hashesOf(keys, false)) && walksLongChains(hashesOf(keys, true))
}

/** The V8 hashes of the number and bigint keys; `distinct` drops repeats, found by string, whose hash is seeded. */
function hashesOf(keys: readonly unknown[], distinct: boolean): Int32Array {
  const hashes = new Int32Array(keys.length)
  const seen = distinct ? new Set<string>() : undefined
  let count = 0
  for (const key of keys) {
    const hash = simpleHash(key)
    if (hash < 0) continue
    if (seen !== undefined) {
      const id = typeof key === 'bigint' ? `${key}n` : String(key)
      if (seen.has(id)) continue
      seen.add(id)
    }
    hashes[count++] = hash
  }
  return hashes.subarray(0, count)
}

/** Replays inserting keys with these hashes into V8's ordered hash table, counting the chain entries walked. */
function walksLongChains(hashes: Int32Array): boolean {
  if (hashes.length <= SMALL) return false
  // V8's ordered hash tables start with 4 entries in 2 buckets and double when full.
  let capacity = 4
  let buckets = new Uint32Array(capacity / 2)
  let steps = 0
  const limit = STEPS_PER_KEY * hashes.length
  for (let index = 0; index < hashes.length; index++) {
    if (index === capacity) {
      capacity *= 2
      buckets = new Uint32Array(capacity / 2)
      for (let earlier = 0; earlier < index; earlier++) buckets[hashes[earlier]! & (buckets.length - 1)]!++
    }
    const bucket = hashes[index]! & (buckets.length - 1)
    steps += buckets[bucket]!
    buckets[bucket]!++
    if (steps > limit) return true
  }
  return false
}

/** V8's `Object::GetSimpleHash` of a number or bigint; -1 for keys whose hash is seeded or random. */
function simpleHash(key: unknown): number {
  if (typeof key === 'number') {
    if (Number.isNaN(key)) return 0x3fffffff
    // Integral values in int32 range, -0 included, hash as int32s (as Smis do).
    if (key >= -0x80000000 && key <= 0x7fffffff && Math.trunc(key) === key) return unseededHash(key | 0)
    BITS.setFloat64(0, key)
    return longHash(BITS.getInt32(0), BITS.getInt32(4))
  }
  if (typeof key === 'bigint') {
    if (key === 0n) return 0
    // V8 hashes only the lowest 64-bit digit of the magnitude.
    const low = BigInt.asUintN(64, key < 0n ? -key : key)
    return longHash(Number(low >> 32n) | 0, Number(low & 0xffffffffn) | 0)
  }
  return -1
}

const BITS = new DataView(new ArrayBuffer(8))

/** V8's `ComputeUnseededHash` (Thomas Wang's 32-bit integer hash). */
function unseededHash(key: number): number {
  let hash = key
  hash = ~hash + (hash << 15)
  hash ^= hash >>> 12
  hash += hash << 2
  hash ^= hash >>> 4
  hash = Math.imul(hash, 2057)
  hash ^= hash >>> 16
  return hash & 0x3fffffff
}

/** V8's `ComputeLongHash` of the 64-bit value `high:low`, in 32-bit halves. */
function longHash(high: number, low: number): number {
  // hash = ~hash + (hash << 18)
  let sum = (~low >>> 0) + ((low << 18) >>> 0)
  high = (~high + ((high << 18) | (low >>> 14)) + (sum > 0xffffffff ? 1 : 0)) | 0
  low = sum | 0
  // hash ^= hash >> 31
  low ^= (low >>> 31) | (high << 1)
  high ^= high >>> 31
  // hash *= 21
  const product = (low >>> 0) * 21
  high = (Math.imul(high, 21) + Math.floor(product / 0x100000000)) | 0
  low = product | 0
  // hash ^= hash >> 11
  low ^= (low >>> 11) | (high << 21)
  high ^= high >>> 11
  // hash += hash << 6
  sum = (low >>> 0) + ((low << 6) >>> 0)
  high = (high + ((high << 6) | (low >>> 26)) + (sum > 0xffffffff ? 1 : 0)) | 0
  low = sum | 0
  // hash ^= hash >> 22
  low ^= (low >>> 22) | (high << 10)
  return low & 0x3fffffff
}
