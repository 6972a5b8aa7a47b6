import { randomUUID } from 'node:crypto'
import { type ObjectStore, readXComConfig, XCom, XComError } from '@xcom/core'
import type { Command } from 'commander'
import { type App, examples } from '../app.ts'
import { effectiveEnv, OVERRIDES } from '../context.ts'
import { EXIT } from '../exit-codes.ts'
import { objectStoreLayout } from '../objectstore.ts'

/** One preflight check. */
export interface Check {
  name: string
  ok: boolean
  /** What was found. */
  detail: string
  /** What to do about it, when it failed. */
  fix?: string
  code?: string
}

/** `xcom doctor`: opens the database and probes the object store, saying what is wrong and how to fix it. */
export function registerDoctor(program: Command, app: App): void {
  const command = program
    .command('doctor')
    .description(
      'preflight: the database opens with a current schema; the bucket exists and accepts write, read, delete',
    )
    .option('--json', 'print the checks as JSON')
  examples(command, ['xcom doctor', 'XCOM_METADATA_URL=postgres://xcom@db/airflow xcom doctor --json'])
  command.action(async (options: { json?: boolean }) => {
    const checks = await runChecks(app)
    if (options.json) app.out.json(checks)
    else {
      const c = app.out.color
      for (const check of checks) {
        app.out.line(`${check.ok ? c.green('ok  ') : c.red('FAIL')}  ${check.name}: ${check.detail}`)
        if (!check.ok && check.fix) app.out.line(`      ${c.yellow('fix:')} ${check.fix}`)
      }
    }
    if (checks.some((check) => !check.ok)) app.exitCode = EXIT.problems
  })
}

/** The checks in order; a failed step ends the checks that depend on it. */
async function runChecks(app: App): Promise<Check[]> {
  const { env } = effectiveEnv(app.io.env, app.globals())
  const checks: Check[] = []
  // The database alone first (no backend variables), so a broken bucket cannot hide a broken database.
  const databaseOnly = Object.fromEntries(
    Object.entries(env).filter(([name]) => !BACKEND_VARIABLES.has(name)),
  )
  const database = await attempt(async () => {
    const xcom = await XCom.fromEnv(databaseOnly)
    try {
      const identity = await xcom.metadata.identity()
      await xcom.list({}, { limit: 1 })
      return identity.description
    } finally {
      await xcom.close().catch(() => {})
    }
  })
  checks.push(
    database.ok
      ? { name: 'metadata database', ok: true, detail: `${database.value} opens; its schema is current` }
      : failed(
          'metadata database',
          database.error,
          'check XCOM_METADATA_URL (or --metadata-url), that the server runs and accepts this user',
        ),
  )
  // With the database down, the store is still probed, beside a throwaway in-memory database.
  const built = await attempt(() =>
    XCom.fromEnv(database.ok ? env : { ...env, XCOM_METADATA_URL: 'memory://' }),
  )
  if (!built.ok) {
    checks.push(failed('backend', built.error, 'check XCOM_BACKEND and the XCOM_OBJECTSTORAGE_* variables'))
    return checks
  }
  const xcom = built.value
  try {
    const store = (xcom.backend as { store?: ObjectStore }).store
    if (!store || typeof store.put !== 'function') {
      const named = readXComConfig(env).backend
      checks.push({
        name: 'backend',
        ok: true,
        detail: named
          ? `${named.value} builds (it has no object store to probe)`
          : 'values stay in the metadata database (no object storage)',
      })
      return checks
    }
    checks.push(...(await probeStore(store)))
    if (database.ok) checks.push(...(await checkClaim(xcom, store)))
  } finally {
    await xcom.close().catch(() => {})
  }
  return checks
}

/** Writes, reads back and deletes a probe object: proves the bucket exists and the credentials may do all three. */
export async function probeStore(store: ObjectStore): Promise<Check[]> {
  const name = `object store ${store.url}`
  const key = `xcom-doctor/${randomUUID()}.probe`
  const body = new TextEncoder().encode(`xcom doctor probe ${new Date().toISOString()}`)
  const wrote = await attempt(() =>
    store.put(key, body, { size: body.byteLength, contentType: 'text/plain' }),
  )
  if (!wrote.ok) return [failed(`${name}: write`, wrote.error, fixFor(wrote.error, store.url))]
  const checks: Check[] = [
    { name: `${name}: write`, ok: true, detail: 'the bucket exists and accepts writes' },
  ]
  const read = await attempt(async () => (await store.get(key)).bytes())
  if (!read.ok) checks.push(failed(`${name}: read`, read.error, fixFor(read.error, store.url)))
  else if (Buffer.compare(Buffer.from(read.value), Buffer.from(body)) !== 0)
    checks.push({
      name: `${name}: read`,
      ok: false,
      detail: 'the probe object read back different bytes',
      fix: 'check for a proxy or gateway that rewrites objects',
    })
  else checks.push({ name: `${name}: read`, ok: true, detail: 'the probe reads back intact' })
  const deleted = await attempt(async () => {
    const { failed } = await store.deleteMany([key])
    if (failed[0]) throw failed[0].error
    return store.head(key)
  })
  if (!deleted.ok) checks.push(failed(`${name}: delete`, deleted.error, fixFor(deleted.error, store.url)))
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
 * Whether the store's prefix belongs to this database: `@xcom/objectstore` refuses a prefix another database claimed
 * (its claim object `CLAIM_KEY` names the owner), and that refusal otherwise surfaces only at the first offload.
 */
async function checkClaim(xcom: XCom, store: ObjectStore): Promise<Check[]> {
  const name = `object store ${store.url}: owner`
  const layout = await objectStoreLayout(xcom.backend)
  if (!layout) return []
  const found = await attempt(async () => {
    const identity = await xcom.metadata.identity()
    const claim = await store
      .get(layout.CLAIM_KEY)
      .then(
        async (body) =>
          JSON.parse(Buffer.from(await body.bytes()).toString('utf8')) as Record<string, unknown>,
      )
      .catch((error: unknown) => {
        if (XComError.is(error, 'E_NOT_FOUND')) return undefined
        throw error
      })
    return { identity, claim }
  })
  if (!found.ok) return [failed(name, found.error, fixFor(found.error, store.url))]
  const { identity, claim } = found.value
  if (!claim)
    return [{ name, ok: true, detail: `unclaimed: the first offload claims it for ${identity.description}` }]
  if (claim.databaseId === identity.id)
    return [{ name, ok: true, detail: `claimed by this database (${identity.description})` }]
  return [
    {
      name,
      ok: false,
      code: 'E_CONFIG',
      detail: `the prefix belongs to the metadata database ${String(claim.database)} (id ${String(claim.databaseId)}), not to ${identity.description} (id ${identity.id}): pushes that offload will fail with E_CONFIG`,
      fix: `give this database its own prefix (e.g. ${store.url.replace(/\/+$/, '')}-2), or point XCOM_METADATA_URL at the database that owns it`,
    },
  ]
}

/** The variables that choose the backend: left out to check the database on its own. */
const BACKEND_VARIABLES = new Set([
  'XCOM_BACKEND',
  'AIRFLOW__CORE__XCOM_BACKEND',
  ...OVERRIDES.filter((override) => override.variable.startsWith('XCOM_OBJECTSTORAGE')).map(
    (o) => o.variable,
  ),
  'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH',
  'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD',
  'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION',
])

function fixFor(error: unknown, url: string): string {
  if (XComError.is(error, 'E_NOT_FOUND'))
    return `create the bucket (container) of ${url}, or correct XCOM_OBJECTSTORAGE_PATH`
  if (XComError.is(error, 'E_PERMISSION_DENIED'))
    return 'give the credentials of the connection permission to put, get and delete objects under the prefix'
  return 'check that the storage service is reachable and the connection (XCOM_CONN_<ID>) is right'
}

function failed(name: string, error: unknown, fix: string): Check {
  const code = XComError.is(error) ? error.code : undefined
  const message = error instanceof Error ? error.message.replace(/\s*\n\s*/g, ' ') : String(error)
  return { name, ok: false, detail: code ? `${code}: ${message}` : message, fix, ...(code ? { code } : {}) }
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown }

async function attempt<T>(run: () => Promise<T>): Promise<Attempt<T>> {
  try {
    return { ok: true, value: await run() }
  } catch (error) {
    return { ok: false, error }
  }
}
