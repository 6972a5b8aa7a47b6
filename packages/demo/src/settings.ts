import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as zlib from 'node:zlib'
import { ENV_VARIABLES } from '@xcom/core'

/** Environment variables, as `process.env` holds them. */
export type Env = Record<string, string | undefined>

/** The demo's settings: the environment it builds its XCom from, and which variables it filled in itself. */
export interface DemoSettings {
  env: Env
  /** The variables the demo set because the user had not, with their values (nothing secret). */
  filled: Record<string, string>
  /** The directory of the embedded default: `XCOM_DEMO_DIR`, else `.xcom` at the repository root. */
  baseDir: string
}

/** `.xcom` at the root of the repository this file is in (absolute, whatever the working directory). */
export const DEFAULT_DEMO_DIR = fileURLToPath(new URL('../../../.xcom', import.meta.url))

/** The codec the demo compresses with: zstd where this Node.js has it, else gzip. */
export const DEMO_CODEC = 'zstdCompress' in zlib ? 'zstd' : 'gzip'

/** Values up to this many serialized bytes stay in the metadata database. */
export const DEMO_THRESHOLD = 64 * 1024

/**
 * The embedded default (SQLite under the base directory, objects in `<base>/objects`, 64 KiB threshold, compression
 * on), each setting applied only when neither its `XCOM_*` nor its `AIRFLOW__*` variable is set: the environment
 * alone can point the demo at S3, GCS, Azure or PostgreSQL.
 */
export function demoSettings(env: Env): DemoSettings {
  const baseDir = env.XCOM_DEMO_DIR?.trim() || DEFAULT_DEMO_DIR
  const isSet = (names: readonly string[]) => names.some((name) => env[name]?.trim())
  const defaults: [readonly string[], string][] = [
    [ENV_VARIABLES.metadataUrl, `sqlite://${pathToFileURL(join(baseDir, 'xcom.db')).pathname}`],
    [ENV_VARIABLES.objectStoragePath, pathToFileURL(join(baseDir, 'objects')).href],
    [ENV_VARIABLES.objectStorageThreshold, String(DEMO_THRESHOLD)],
    [ENV_VARIABLES.objectStorageCompression, DEMO_CODEC],
  ]
  const filled: Record<string, string> = {}
  for (const [names, value] of defaults) {
    if (!isSet(names) && names[0]) filled[names[0]] = value
  }
  return { env: { ...env, ...filled }, filled, baseDir }
}
