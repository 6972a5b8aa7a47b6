import type { SQLInputValue } from 'node:sqlite'
import type { XComQuery } from '@xcom/core'
import { fixedKeyColumns, queryValues } from '@xcom/core/adapter'
import { compareToText, type KeyPart } from './cursor.ts'
import { KEY_COLUMNS } from './schema.ts'

/**
 * The WHERE clause of a query, its values as parameters (never in the SQL text). A list becomes one parameter, a
 * JSON array read with json_each, so 10,000 map indexes are still one statement with one placeholder.
 */
export function whereOf(query: XComQuery): { where: string; params: SQLInputValue[] } {
  const clauses: string[] = []
  const params: SQLInputValue[] = []
  const scalar = (column: string, value: string | undefined) => {
    if (value === undefined) return
    clauses.push(`${column} = ?`)
    params.push(value)
  }
  const list = (column: string, field: string | number | readonly (string | number)[] | undefined) => {
    const values = queryValues(field)
    if (values === undefined) return
    if (values.length === 1) {
      clauses.push(`${column} = ?`)
      params.push(values[0] as string | number)
    } else {
      clauses.push(`${column} IN (SELECT value FROM json_each(?))`)
      params.push(JSON.stringify(values))
    }
  }
  scalar('dag_id', query.dagId)
  scalar('run_id', query.runId)
  list('task_id', query.taskId)
  list('map_index', query.mapIndex)
  list('key', query.key)
  if (query.expiredBefore !== undefined) {
    clauses.push('expires_at < ?')
    params.push(query.expiredBefore.getTime())
  }
  if (query.createdBefore !== undefined) {
    clauses.push('created_at < ?')
    params.push(query.createdBefore.getTime())
  }
  return { where: clauses.length > 0 ? clauses.join(' AND ') : 'TRUE', params }
}

/**
 * The keyset condition selecting the rows after the cursor's key (see {@link fixedKeyColumns}): text compares by its
 * UTF-8 bytes, SQLite's BINARY collation.
 */
export function keysetAfter(
  query: XComQuery,
  after: KeyPart[],
): { condition: string; params: SQLInputValue[] } | 'all' | 'none' {
  const fixed = fixedKeyColumns(query, after, compareToText)
  if (typeof fixed !== 'number') return fixed
  const rest = after.slice(fixed)
  const columns = KEY_COLUMNS.split(', ').slice(fixed)
  return {
    condition: `(${columns.join(', ')}) > (${rest.map((part) => part.placeholder).join(', ')})`,
    params: rest.map((part) => part.value),
  }
}
