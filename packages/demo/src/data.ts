/** One order of the demo: the kind of row an `extract` task reads from a source system. */
export interface Order {
  orderId: number
  customerId: string
  createdAt: Date
  /** Amount in euro cents: a BigInt, which plain JSON could not carry. */
  amountCents: bigint
  status: OrderStatus
  region: string
  items: number
}

export type OrderStatus = 'placed' | 'paid' | 'shipped' | 'refunded'

const STATUSES: readonly OrderStatus[] = ['placed', 'paid', 'shipped', 'shipped', 'shipped', 'refunded']
const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south'] as const
const START = Date.UTC(2026, 0, 1)
const QUARTER_MS = 90 * 24 * 3600 * 1000

/** How many customers place `records` orders: about five orders each. */
export function customerCount(records: number): number {
  return Math.max(1, Math.floor(records / 5))
}

/** The customer id of a customer number, e.g. `C0000042`. */
export function customerId(n: number): string {
  return `C${String(n).padStart(7, '0')}`
}

/** Which mapped `transform` instance handles a customer: by customer, so each partition's totals are complete. */
export function partitionOf(id: string, partitions: number): number {
  return Number(id.slice(1)) % partitions
}

/**
 * `records` orders, the same for the same count on every run (mulberry32 seeded with a constant), in time order over
 * the first quarter of 2026.
 */
export function generateOrders(records: number): Order[] {
  const random = mulberry32(20260101)
  const customers = customerCount(records)
  const orders: Order[] = new Array(records)
  for (let i = 0; i < records; i++) {
    orders[i] = {
      orderId: 100_000 + i,
      customerId: customerId(Math.floor(random() * customers)),
      createdAt: new Date(START + Math.floor((i / records) * QUARTER_MS + random() * 60_000)),
      amountCents: BigInt(199 + Math.floor(random() * 50_000)),
      status: STATUSES[Math.floor(random() * STATUSES.length)]!,
      region: REGIONS[Math.floor(random() * REGIONS.length)]!,
      items: 1 + Math.floor(random() * 6),
    }
  }
  return orders
}

/** A small deterministic PRNG: numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Cents as euros with two decimals, e.g. `12345n` -> `123.45`. */
export function formatCents(cents: bigint): string {
  const sign = cents < 0n ? '-' : ''
  const abs = cents < 0n ? -cents : cents
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`
}
