import { randomUUID } from 'node:crypto'
import type {
  DatabaseIdentity,
  MetadataStore,
  PendingPurge,
  RecordPage,
  XComKey,
  XComQuery,
  XComRecord,
} from './contracts.ts'
import { compareKeys } from './identity.ts'
import { decodeCursor, encodeCursor, matchesQuery } from './query.ts'

/**
 * A {@link MetadataStore} in process memory: for tests, demos and short-lived pipelines. Records are copied in and
 * out, so callers can never change what is stored by mutating a returned object.
 */
export class MemoryMetadataStore implements MetadataStore {
  readonly #records = new Map<string, XComRecord>()
  readonly #purges = new Map<string, PendingPurge>()
  readonly #identity: DatabaseIdentity = { id: randomUUID(), description: 'memory://' }
  #closed = false

  async put(record: XComRecord): Promise<XComRecord | undefined> {
    this.#checkOpen()
    const slot = slotOf(record)
    const replaced = this.#records.get(slot)
    this.#records.set(slot, structuredClone(record))
    if (replaced) this.#queuePurge(replaced)
    return replaced
  }

  async replaceIf(record: XComRecord, expectedId: string): Promise<XComRecord | undefined> {
    this.#checkOpen()
    if (this.#records.get(slotOf(record))?.id !== expectedId) return undefined
    return this.put(record)
  }

  async get(id: XComKey): Promise<XComRecord | undefined> {
    this.#checkOpen()
    const record = this.#records.get(slotOf(id))
    return record && structuredClone(record)
  }

  async getMany(query: XComQuery): Promise<XComRecord[]> {
    this.#checkOpen()
    return structuredClone(this.#select(query))
  }

  async delete(query: XComQuery): Promise<XComRecord[]> {
    this.#checkOpen()
    const selected = this.#select(query)
    for (const record of selected) {
      this.#records.delete(slotOf(record))
      this.#queuePurge(record)
    }
    return selected
  }

  async list(
    query: XComQuery,
    page: { limit: number; after?: string | undefined } = { limit: 1000 },
  ): Promise<RecordPage> {
    this.#checkOpen()
    const after = page.after === undefined ? undefined : decodeCursor(page.after)
    const selected = this.#select(query).filter(
      (record) => after === undefined || compareKeys(record, after) > 0,
    )
    const records = selected.slice(0, page.limit)
    const last = records.at(-1)
    return {
      records: structuredClone(records),
      next: selected.length > page.limit && last ? encodeCursor(last) : undefined,
    }
  }

  async pendingPurges(limit: number): Promise<PendingPurge[]> {
    this.#checkOpen()
    return structuredClone([...this.#purges.values()].slice(0, limit))
  }

  async resolvePurges(ids: readonly string[]): Promise<void> {
    this.#checkOpen()
    for (const id of ids) this.#purges.delete(id)
  }

  /** A new id per store: a memory database lives as long as its process. */
  async identity(): Promise<DatabaseIdentity> {
    return { ...this.#identity, description: `memory:// (${this.#identity.id})` }
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #queuePurge(record: XComRecord): void {
    if (record.value.kind === 'reference')
      this.#purges.set(record.id, { id: record.id, record, queuedAt: new Date() })
  }

  #select(query: XComQuery): XComRecord[] {
    return [...this.#records.values()].filter((record) => matchesQuery(record, query)).sort(compareKeys)
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('MemoryMetadataStore is closed')
  }
}

function slotOf(key: XComKey): string {
  return JSON.stringify([key.dagId, key.runId, key.taskId, key.mapIndex, key.key])
}
