import type { StoredValue, XComBackend, XComContext } from './contracts.ts'
import { XComError } from './errors.ts'
import { SerializerRegistry } from './serializer/index.ts'

/** Options of {@link BaseXComBackend}. */
export interface BaseXComBackendOptions {
  /** Turns values into JSON text and back. @default a new SerializerRegistry() */
  serializer?: SerializerRegistry
}

/** How many characters of inline data {@link BaseXComBackend.display} shows. */
const DISPLAY_LIMIT = 200

/**
 * The default backend: every value is serialized to JSON text and kept inline in the metadata database. Subclass it to
 * change a hook; `ObjectStoreXComBackend` (in `@xcom/objectstore`) moves large values to object storage.
 */
export class BaseXComBackend implements XComBackend {
  /** The serializer this backend uses. */
  readonly serializer: SerializerRegistry

  constructor(options: BaseXComBackendOptions = {}) {
    this.serializer = options.serializer ?? new SerializerRegistry()
  }

  /** @throws XComError `E_NOT_SERIALIZABLE`, `E_TOO_LARGE` from the serializer. */
  async serializeValue(value: unknown, _ctx: XComContext): Promise<StoredValue> {
    const data = this.serializer.serialize(value)
    return { kind: 'inline', data, size: Buffer.byteLength(data) }
  }

  /**
   * @throws XComError `E_BACKEND` for a reference: this backend cannot read object storage; `E_CORRUPT` for a row the
   * metadata store could not decode.
   */
  async deserializeValue(stored: StoredValue, _ctx: XComContext): Promise<unknown> {
    if (stored.kind === 'inline') return this.serializer.deserialize(stored.data)
    if (stored.kind === 'malformed') throw malformedValue(stored.reason)
    throw new XComError(
      'E_BACKEND',
      `This XCom holds a reference to ${stored.ref.uri}, which BaseXComBackend cannot read: configure the backend that wrote it (e.g. ObjectStoreXComBackend from @xcom/objectstore, chosen by XCOM_OBJECTSTORAGE_PATH or AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH; another backend by XCOM_BACKEND or AIRFLOW__CORE__XCOM_BACKEND).`,
      { uri: stored.ref.uri },
    )
  }

  /** Inline values own nothing outside the database: nothing to delete. */
  async purge(_stored: StoredValue, _ctx: XComContext): Promise<void> {}

  /** The inline JSON (cut at 200 characters), or the reference's URI and size. */
  display(stored: StoredValue): string {
    if (stored.kind === 'malformed') return `(malformed row: ${stored.reason})`
    if (stored.kind === 'reference') return `${stored.ref.uri} (${stored.size} bytes)`
    return stored.data.length > DISPLAY_LIMIT
      ? `${stored.data.slice(0, DISPLAY_LIMIT)}... (${stored.size} bytes)`
      : stored.data
  }
}

/** `E_CORRUPT` for a row the metadata store could not decode: what to do about it. */
export function malformedValue(reason: string): XComError {
  return new XComError(
    'E_CORRUPT',
    `The row of this XCom is malformed (${reason}): it was damaged or not written by xcom. Clear this XCom and push it again.`,
  )
}
