import { readFileSync } from 'node:fs'
import { IdempotencyStrategy, Storage, type StorageOptions } from '@google-cloud/storage'
import { XComError } from '@xcom/core'
import { JWT, PassThroughClient } from 'google-auth-library'
import type { GcsConnectionOptions, GcsCredentials } from './connection.ts'
import { fastCrc32cValidator } from './crc32c.ts'
import { loggingRetryableErrorFn, type ObjectScope } from './retries.ts'
import type { GcsObjectStoreOptions } from './store.ts'

/** The scopes @google-cloud/storage asks for by default. */
const STORAGE_SCOPES = [
  'https://www.googleapis.com/auth/iam',
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/devstorage.full_control',
]

/**
 * The client of a store given no ready `client`: its `storageOptions`, the authentication below, the faster CRC-32C
 * (unless `storageOptions` names one), `apiEndpoint`, and retries with `idempotencyStrategy: RetryAlways` under
 * `retryOptions` and `maxRetries`, each retry logged (its `retryableErrorFn`, the caller's or the SDK's, is wrapped).
 * @throws XComError `E_CONFIG` when the key file cannot be read or is not JSON.
 */
export function buildStorage(
  options: GcsConnectionOptions & Pick<GcsObjectStoreOptions, 'retryOptions' | 'storageOptions'>,
  url: string,
  scope: ObjectScope,
): Storage {
  const base = options.storageOptions ?? {}
  const decide = options.retryOptions?.retryableErrorFn ?? base.retryOptions?.retryableErrorFn
  return new Storage({
    ...base,
    ...authOptionsOf(options, url),
    crc32cGenerator: base.crc32cGenerator ?? fastCrc32cValidator,
    ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
    retryOptions: {
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      ...base.retryOptions,
      ...options.retryOptions,
      ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
      // The SDK asks this before each retry: the one hook it offers to log them.
      retryableErrorFn: loggingRetryableErrorFn(scope, decide),
    },
  })
}

/**
 * The authentication part of the `StorageOptions` for a client the store builds:
 * - `anonymous`: a `PassThroughClient` (no credentials sent);
 * - a service account key (`credentials`, or the JSON file at `keyFilename`, read now): a `JWT` client built from it,
 *   as Google recommends, with `scopes` (default: the SDK's) and `quotaProjectId`;
 * - any other key JSON (external account, authorized user...): handed to the SDK as `credentials` / `keyFilename`;
 * - nothing: the SDK's Application Default Credentials.
 * @throws XComError `E_CONFIG` when the key file cannot be read or is not JSON (its content is never shown).
 */
function authOptionsOf(options: GcsConnectionOptions, url: string): StorageOptions {
  const quota = options.quotaProjectId === undefined ? {} : { quotaProjectId: options.quotaProjectId }
  const projectId = options.projectId === undefined ? {} : { projectId: options.projectId }
  if (options.anonymous) return { ...projectId, authClient: new PassThroughClient() }
  const key =
    options.credentials ??
    (options.keyFilename === undefined ? undefined : readKeyFile(options.keyFilename, url))
  if (isServiceAccountKey(key)) {
    const jwt = new JWT({
      email: key.client_email,
      key: key.private_key,
      ...(typeof key.private_key_id === 'string' ? { keyId: key.private_key_id } : {}),
      ...(typeof key.universe_domain === 'string' ? { universeDomain: key.universe_domain } : {}),
      scopes: options.scopes ?? STORAGE_SCOPES,
      ...quota,
    })
    const keyProject = typeof key.project_id === 'string' ? { projectId: key.project_id } : {}
    return { ...keyProject, ...projectId, authClient: jwt }
  }
  return {
    ...projectId,
    ...(options.credentials !== undefined
      ? { credentials: options.credentials as StorageOptions['credentials'] }
      : options.keyFilename !== undefined
        ? { keyFilename: options.keyFilename }
        : {}),
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    ...(options.quotaProjectId === undefined ? {} : { clientOptions: quota }),
  }
}

function isServiceAccountKey(
  key: GcsCredentials | undefined,
): key is GcsCredentials & { client_email: string; private_key: string } {
  return (
    key?.type === 'service_account' &&
    typeof key.client_email === 'string' &&
    typeof key.private_key === 'string'
  )
}

/** The JSON of a key file, or undefined when it is not a JSON object (the SDK then reads it as it can). */
function readKeyFile(path: string, url: string): GcsCredentials | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new XComError(
      'E_CONFIG',
      `GcsObjectStore ${url}: the key file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}). Fix key_path / keyFilename, or mount the file.`,
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new XComError(
      'E_CONFIG',
      `GcsObjectStore ${url}: the key file ${path} is not JSON (its content is not shown). Use a JSON service account key.`,
    )
  }
  return typeof json === 'object' && json !== null && !Array.isArray(json)
    ? (json as GcsCredentials)
    : undefined
}
