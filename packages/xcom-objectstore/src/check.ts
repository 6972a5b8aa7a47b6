import { randomUUID } from 'node:crypto'
import { type CheckResult, type DatabaseIdentity, failedCheck, type ObjectStore, XComError } from '@xcom/core'
import { connectionVariableNames, settle } from '@xcom/core/adapter'
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
    return rejectsCredentials(error)
      ? `the service does not accept the credentials at all (an unknown key, a wrong secret or an expired token): correct them in ${credentialSource(url)}`
      : 'give the credentials of the connection permission to put, get and delete objects under the prefix'
  if (XComError.is(error, 'E_CORRUPT'))
    return 'restore the claim, or delete it if only one database uses this prefix'
  if (unreachable(error)) {
    const id = connectionIdOf(url)
    return id === undefined
      ? 'nothing answers at the storage endpoint: check the network, proxy and DNS'
      : `nothing answers at the storage endpoint: start the service, or correct the endpoint (endpoint_url, host or gcs.endpoint) in ${credentialSource(url)}`
  }
  return 'check that the storage service is reachable and the connection (XCOM_CONN_<ID>) is right'
}

/** Service codes of a refusal of the credentials themselves, not of what they may do (S3, Azure). */
const REJECTED_CREDENTIALS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AuthenticationFailed',
  'InvalidAuthenticationInfo',
])

/** The services' words for credentials they do not know (azurite says AuthorizationFailure with the first). */
const REJECTED_WORDS =
  /failed to authenticate|invalid_grant|invalid_client|unauthorized_client|invalid credentials|access key id you provided does not exist|signature we calculated does not match/i

/** Network errors meaning nothing answered at the endpoint. */
const UNREACHABLE = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT)\b/

/** True when the service refused the credentials as invalid (HTTP 401, or a code or text saying so). */
function rejectsCredentials(error: unknown): boolean {
  return facts(error).some(
    (fact) =>
      fact.status === 401 ||
      fact.codes.some((code) => REJECTED_CREDENTIALS.has(code)) ||
      REJECTED_WORDS.test(fact.message),
  )
}

/** True when the request got no answer because the endpoint cannot be reached. */
function unreachable(error: unknown): boolean {
  return facts(error).some(
    (fact) => fact.codes.some((code) => UNREACHABLE.test(code)) || UNREACHABLE.test(fact.message),
  )
}

interface ErrorFacts {
  codes: string[]
  status: number | undefined
  message: string
}

/** Code, name, HTTP status and message of an error and its causes (adapters keep the SDK's error as `cause`). */
function facts(error: unknown): ErrorFacts[] {
  const found: ErrorFacts[] = []
  let current = error
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const shape = current as {
      code?: unknown
      name?: unknown
      Code?: unknown
      status?: unknown
      statusCode?: unknown
      message?: unknown
      cause?: unknown
      $metadata?: { httpStatusCode?: unknown }
    }
    const status = [shape.$metadata?.httpStatusCode, shape.statusCode, shape.status, shape.code].find(
      (value): value is number => typeof value === 'number',
    )
    found.push({
      codes: [shape.code, shape.name, shape.Code].filter(
        (value): value is string => typeof value === 'string',
      ),
      status,
      message: typeof shape.message === 'string' ? shape.message : '',
    })
    current = shape.cause
  }
  return found
}

/** The connection id of a store URL (`s3://my_conn@bucket/prefix`), if it names one. */
function connectionIdOf(url: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/([^@/?#]+)@/i.exec(url)?.[1]
}

/** Where the credentials of a store URL come from: its connection's variables, or the SDK's defaults. */
function credentialSource(url: string): string {
  const id = connectionIdOf(url)
  if (id === undefined) return 'the default credentials the SDK finds (the URL names no connection)'
  return `the connection "${id}" (${connectionVariableNames(id).join(' or ')})`
}
