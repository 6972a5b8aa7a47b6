import { randomUUID } from 'node:crypto'
import { type CheckResult, type DatabaseIdentity, failedCheck, type ObjectStore, XComError } from '@xcom/core'
import { settle } from '@xcom/core/adapter'
import { readClaim } from './claim.ts'

/**
 * The preflight of `ObjectStoreXComBackend.check`: the probe (the bucket exists and the credentials may write, read
 * and delete), then the prefix claim when the database is known. Never throws.
 */
export async function checkObjectStore(
  store: ObjectStore,
  database: DatabaseIdentity | undefined,
): Promise<CheckResult[]> {
  const probe = await probeStore(store)
  if (!database || probe.some((check) => !check.ok)) return probe
  return [...probe, await checkClaim(store, database)]
}

/** Writes, reads back and deletes a probe object: proves the bucket exists and the credentials may do all three. */
export async function probeStore(store: ObjectStore): Promise<CheckResult[]> {
  const name = `object store ${store.url}`
  const key = `xcom-check/${randomUUID()}.probe`
  const body = new TextEncoder().encode(`xcom check probe ${new Date().toISOString()}`)
  const wrote = await settle(() => store.put(key, body, { size: body.byteLength, contentType: 'text/plain' }))
  if (!wrote.ok) return [failedCheck(`${name}: write`, wrote.error, fixFor(wrote.error, store.url))]
  const checks: CheckResult[] = [
    { name: `${name}: write`, ok: true, detail: 'the bucket exists and accepts writes' },
  ]
  const read = await settle(async () => (await store.get(key)).bytes())
  if (!read.ok) checks.push(failedCheck(`${name}: read`, read.error, fixFor(read.error, store.url)))
  else if (Buffer.compare(Buffer.from(read.value), Buffer.from(body)) !== 0)
    checks.push({
      name: `${name}: read`,
      ok: false,
      detail: 'the probe object read back different bytes',
      fix: 'check for a proxy or gateway that rewrites objects',
    })
  else checks.push({ name: `${name}: read`, ok: true, detail: 'the probe reads back intact' })
  const deleted = await settle(async () => {
    const { failed } = await store.deleteMany([key])
    if (failed[0]) throw failed[0].error
    return store.head(key)
  })
  if (!deleted.ok)
    checks.push(failedCheck(`${name}: delete`, deleted.error, fixFor(deleted.error, store.url)))
  else if (deleted.value !== undefined)
    checks.push({
      name: `${name}: delete`,
      ok: false,
      detail: `the probe ${key} is still there after deleting it`,
      fix: 'check the bucket for object locks or retention',
    })
  else checks.push({ name: `${name}: delete`, ok: true, detail: 'the probe was deleted' })
  return checks
}

/**
 * Whether the store's prefix belongs to `database` or is unclaimed: the backend refuses a prefix another database
 * claimed, and that refusal otherwise surfaces only at the first offload. Reads the claim, never writes it.
 */
export async function checkClaim(store: ObjectStore, database: DatabaseIdentity): Promise<CheckResult> {
  const name = `object store ${store.url}: owner`
  const found = await settle(() => readClaim(store))
  if (!found.ok) return failedCheck(name, found.error, fixFor(found.error, store.url))
  const claim = found.value
  if (!claim)
    return { name, ok: true, detail: `unclaimed: the first offload claims it for ${database.description}` }
  if (claim.databaseId === database.id)
    return { name, ok: true, detail: `claimed by this database (${database.description})` }
  return {
    name,
    ok: false,
    code: 'E_CONFIG',
    detail: `the prefix belongs to the metadata database ${claim.database} (id ${claim.databaseId}), not to ${database.description} (id ${database.id}): pushes that offload will fail with E_CONFIG`,
    fix: `give this database its own prefix (e.g. ${store.url.replace(/\/+$/, '')}-2), or point XCOM_METADATA_URL at the database that owns it`,
  }
}

function fixFor(error: unknown, url: string): string {
  if (XComError.is(error, 'E_NOT_FOUND'))
    return `create the bucket (container) of ${url}, or correct XCOM_OBJECTSTORAGE_PATH`
  if (XComError.is(error, 'E_PERMISSION_DENIED'))
    return 'give the credentials of the connection permission to put, get and delete objects under the prefix'
  if (XComError.is(error, 'E_CORRUPT'))
    return 'restore the claim, or delete it if only one database uses this prefix'
  return 'check that the storage service is reachable and the connection (XCOM_CONN_<ID>) is right'
}
