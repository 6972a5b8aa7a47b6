/*
 * A prefix belongs to one metadata database. The first offload (or gc) writes `xcom-database.json` at the store's
 * root naming the database; every later one checks it, so a second database pointed at the prefix is refused before
 * it writes or sweeps anything. Objects also name their database in their metadata (`xcomdatabaseid`), and the sweep
 * deletes only those: the claim stops the mistake early, the per-object check makes the sweep safe even if it is
 * bypassed (a store without conditional create, two databases racing for a new prefix).
 */
import { type DatabaseIdentity, type ObjectStore, XComError } from '@xcom/core'
import { uriOf } from './store-util.ts'

/** The key of the claim, relative to the store's prefix (never of the shape of a value's key). */
export const CLAIM_KEY = 'xcom-database.json'

/** The object metadata name that holds the id of the database an object belongs to. */
export const DATABASE_META = 'xcomdatabaseid'

/** What the claim object holds. */
export interface Claim {
  databaseId: string
  database: string
  claimedAt: string
}

/** Checks, and on first use writes, the claim of a store's prefix; remembers the database it verified. */
export class PrefixClaim {
  readonly #store: ObjectStore
  #verified: string | undefined

  constructor(store: ObjectStore) {
    this.#store = store
  }

  /**
   * Returns `database` when the prefix belongs to it (claiming the prefix if nobody has).
   * @throws XComError `E_CONFIG` naming both databases when another one claimed the prefix; `E_CORRUPT` for a claim
   * that cannot be read.
   */
  async check(database: DatabaseIdentity | undefined): Promise<DatabaseIdentity> {
    if (!database) {
      throw new XComError(
        'E_CONFIG',
        `ObjectStoreXComBackend was called without the metadata database's identity: call it through XCom (push, pull, clear, gc), which passes it.`,
        { uri: this.#store.url },
      )
    }
    if (this.#verified === database.id) return database
    let claim = await readSettledClaim(this.#store)
    if (!claim) {
      await this.#write(database)
      claim = await readSettledClaim(this.#store)
    }
    if (claim?.databaseId !== database.id) {
      throw new XComError(
        'E_CONFIG',
        `The object storage prefix ${this.#store.url} belongs to the metadata database ${claim?.database ?? '(unknown)'} (id ${claim?.databaseId ?? '?'}), not to ${database.description} (id ${database.id}). A prefix serves one database, or gc would delete the other's values: give this database its own prefix (e.g. ${this.#store.url.replace(/\/+$/, '')}-2).`,
        { uri: uriOf(this.#store.url, CLAIM_KEY) },
      )
    }
    this.#verified = database.id
    return database
  }

  async #write(database: DatabaseIdentity): Promise<void> {
    const claim: Claim = {
      databaseId: database.id,
      database: database.description,
      claimedAt: new Date().toISOString(),
    }
    const conditional = this.#store.capabilities.conditionalCreate
    try {
      await this.#store.put(CLAIM_KEY, Buffer.from(`${JSON.stringify(claim, null, 2)}\n`), {
        contentType: 'application/json',
        metadata: { [DATABASE_META]: database.id },
        ...(conditional ? { ifNoneMatch: true } : {}),
      })
    } catch (error) {
      // Another database claimed it first: the read that follows names it.
      if (!XComError.is(error, 'E_PRECONDITION_FAILED')) throw error
    }
  }
}

/** Attempts at reading a claim that another process may be writing at that moment. */
const CLAIM_READS = 4

/**
 * {@link readClaim}, read again after a short wait when it fails: without conditional create, concurrent first pushes
 * all write the claim, and a store that does not replace objects atomically (s3rver) can serve a torn body meanwhile.
 * A claim still unreadable after that is damaged.
 */
async function readSettledClaim(store: ObjectStore): Promise<Claim | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readClaim(store)
    } catch (error) {
      if (attempt >= CLAIM_READS || !(XComError.is(error, 'E_CORRUPT') || XComError.is(error, 'E_BACKEND')))
        throw error
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt))
    }
  }
}

/**
 * The claim of a store's prefix, or undefined when nobody claimed it.
 * @throws XComError `E_CORRUPT` for a claim that cannot be read; the store's errors.
 */
export async function readClaim(store: ObjectStore): Promise<Claim | undefined> {
  const uri = uriOf(store.url, CLAIM_KEY)
  let text: string
  try {
    text = Buffer.from(await (await store.get(CLAIM_KEY)).bytes()).toString('utf8')
  } catch (error) {
    if (XComError.is(error, 'E_NOT_FOUND')) return undefined
    throw error
  }
  try {
    const claim = JSON.parse(text) as Partial<Claim>
    if (typeof claim.databaseId === 'string' && typeof claim.database === 'string') return claim as Claim
  } catch {}
  throw new XComError(
    'E_CORRUPT',
    `The claim ${uri} that names the metadata database owning this prefix is unreadable: restore it, or delete it if you are sure only one database uses this prefix.`,
    { uri },
  )
}
