/** The outcome of {@link settle}: the value, or what was thrown. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }

/** Runs `work` and returns its value or its error instead of throwing: for checks that report every failure. */
export async function settle<T>(work: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await work() }
  } catch (error) {
    return { ok: false, error }
  }
}

/** Maps `items` through `fn` with at most `limit` calls in flight, keeping the order; the first rejection rejects. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
