import type { XComBackend } from '@xcom/core'
import { importModule } from '@xcom/core/adapter'

/** What the commands use of `@xcom/objectstore` to audit its layout: its exports for tools that audit a bucket. */
export interface ObjectStoreLayout {
  /** The object metadata name holding the id of an object's database. */
  DATABASE_META: string
  /** True for keys of the backend's layout (the only ones the sweep deletes). */
  isObjectKey(objectKey: string): boolean
  /** The record id in such a key, lowercased. */
  recordIdOf(objectKey: string): string
}

/**
 * `@xcom/objectstore`'s layout helpers when `backend` is its `ObjectStoreXComBackend` (or a subclass), else undefined.
 * Imported the way `XCom.fromEnv` imported the backend (never statically: the CLI needs no adapter it is not
 * configured with), so they are the very copy that built it.
 */
export async function objectStoreLayout(backend: XComBackend): Promise<ObjectStoreLayout | undefined> {
  let loaded: Record<string, unknown>
  try {
    loaded = await importModule('@xcom/objectstore', 'XCOM_OBJECTSTORAGE_PATH')
  } catch {
    return undefined
  }
  const Backend = loaded.ObjectStoreXComBackend as (abstract new (...args: never[]) => unknown) | undefined
  if (typeof Backend !== 'function' || !(backend instanceof Backend)) return undefined
  const { DATABASE_META, isObjectKey, recordIdOf } = loaded
  if (
    typeof DATABASE_META !== 'string' ||
    typeof isObjectKey !== 'function' ||
    typeof recordIdOf !== 'function'
  )
    return undefined
  return { DATABASE_META, isObjectKey, recordIdOf } as ObjectStoreLayout
}
