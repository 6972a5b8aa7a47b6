import { randomUUID } from 'node:crypto'
import { type DatabaseIdentity, XComError } from '@xcom/core'
import type { PoolClient } from 'pg'
import { identityInsert, identitySelect } from './schema.ts'

/** Database ids: what object storage accepts in its claim and object metadata. */
const DATABASE_ID = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Reads the identity of the schema `s` (quoted) through `client`, creating its row if it was deleted, and describes
 * where the database is from the client's own connection parameters: user, host, port, database, and the schema
 * unless it is `public`. Never the password.
 * @throws XComError `E_CORRUPT` when the stored id is damaged (it is never replaced: object storage knows it).
 */
export async function readIdentity(
  client: PoolClient,
  s: string,
  schema: string,
  url: string,
): Promise<DatabaseIdentity> {
  let rows = (await client.query<{ id: unknown }>(identitySelect(s))).rows
  if (rows.length === 0) {
    // The row is created with the schema; only a deleted one is created again here.
    await client.query(identityInsert(s), [randomUUID()])
    rows = (await client.query<{ id: unknown }>(identitySelect(s))).rows
  }
  const id = rows[0]?.id
  if (typeof id !== 'string' || !DATABASE_ID.test(id) || rows.length !== 1) {
    throw new XComError(
      'E_CORRUPT',
      `The identity of the PostgreSQL metadata database ${url} (table ${schema}.xcom_database) is damaged: it must be one row whose id is 1-64 characters of A-Z, a-z, 0-9, _ and -. ` +
        'Restore it from a backup, or set xcom_database.id back to the databaseId of the xcom-database.json claim in your object storage prefix.',
      { uri: url },
    )
  }
  return { id, description: describe(client, schema) }
}

/** `postgres://user@host:port/database[?schema=...]` from the parameters pg resolved (URL, PG* variables, defaults). */
function describe(client: PoolClient, schema: string): string {
  const { user, host, port, database } = client as unknown as {
    user?: string
    host?: string
    port?: number
    database?: string
  }
  // A Unix socket directory is escaped, as libpq URLs do; an IPv6 address is bracketed.
  const where = !host
    ? 'localhost'
    : host.includes('/')
      ? encodeURIComponent(host)
      : host.includes(':')
        ? `[${host}]`
        : host
  const path = `${encodeURIComponent(user ?? '')}@${where}:${port ?? 5432}/${encodeURIComponent(database ?? '')}`
  return `postgres://${path}${schema === 'public' ? '' : `?schema=${schema}`}`
}
