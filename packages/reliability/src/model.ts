/**
 * What a pull may return, per XCom identity: the last value acknowledged, or any value whose write is in doubt
 * since (a push or clear that reported failure but may have committed). A successful read collapses the set to
 * what was seen.
 */

/** The fingerprint of "no XCom here". */
export const ABSENT = '(absent)'

interface Entry {
  confirmed: string
  inDoubt: Set<string>
}

/** Per-identity expectations of a sequential workload. */
export class Model {
  readonly #entries = new Map<string, Entry>()
  /** Reads that found the value of a write reported failed: it had committed after all. */
  committedDespiteFailure = 0

  #entry(id: string): Entry {
    let entry = this.#entries.get(id)
    if (!entry) {
      entry = { confirmed: ABSENT, inDoubt: new Set() }
      this.#entries.set(id, entry)
    }
    return entry
  }

  /** Whether the last acknowledged state of `id` holds a value. */
  hasValue(id: string): boolean {
    return this.#entry(id).confirmed !== ABSENT
  }

  /** A write of `fingerprint` (or of ABSENT, for clear) was acknowledged. */
  acknowledge(id: string, fingerprint: string): void {
    const entry = this.#entry(id)
    entry.confirmed = fingerprint
    entry.inDoubt.clear()
  }

  /** A write of `fingerprint` failed but may have committed. */
  doubt(id: string, fingerprint: string): void {
    this.#entry(id).inDoubt.add(fingerprint)
  }

  /** Whether a read of `id` may return `fingerprint`. */
  allows(id: string, fingerprint: string): boolean {
    const entry = this.#entry(id)
    return entry.confirmed === fingerprint || entry.inDoubt.has(fingerprint)
  }

  /**
   * Checks a successful read and collapses the identity to what it saw.
   * @returns false when the read returned something no write allowed (a lost or invented value)
   */
  observe(id: string, fingerprint: string): boolean {
    const allowed = this.allows(id, fingerprint)
    const entry = this.#entry(id)
    if (allowed && entry.confirmed !== fingerprint) this.committedDespiteFailure++
    if (allowed) this.acknowledge(id, fingerprint)
    return allowed
  }

  /** Every identity the workload touched. */
  identities(): string[] {
    return [...this.#entries.keys()]
  }

  /** How many identities have writes in doubt right now. */
  inDoubtCount(): number {
    let count = 0
    for (const entry of this.#entries.values()) if (entry.inDoubt.size > 0) count++
    return count
  }
}
