import { type Connection, XComError } from '@xcom/core'

/** Service account key or external account configuration, as the JSON of a key file. */
export type GcsCredentials = Record<string, unknown>

/** The client settings a connection can carry: what {@link gcsOptionsFromConnection} returns. */
export interface GcsConnectionOptions {
  /** The Google Cloud project (`project` extra). */
  projectId?: string
  /** Path to a service account key (`key_path`) or an external account configuration (`credential_config_file`). */
  keyFilename?: string
  /** Parsed key JSON (`keyfile_dict`, or an inline `credential_config_file`). */
  credentials?: GcsCredentials
  /** OAuth scopes (`scope`, comma-separated in Airflow). */
  scopes?: string[]
  /** Maximum retries of transient failures (`num_retries`). */
  maxRetries?: number
  /** Send no credentials at all (`is_anonymous`), for public buckets. */
  anonymous?: boolean
  /** The project billed for quota (`quota_project_id`): sent as `x-goog-user-project`. */
  quotaProjectId?: string
  /** A JSON API endpoint other than Google's (`gcs.endpoint`, `endpoint` or `api_endpoint`), e.g. a local test server. */
  apiEndpoint?: string
}

/** Connection types whose connections describe Google Cloud Storage access. */
export const GCS_CONNECTION_TYPES: readonly string[] = ['google_cloud_platform', 'gcp', 'gs', 'gcs']

const PREFIX = 'extra__google_cloud_platform__'

/**
 * Maps an Airflow `google_cloud_platform` connection (already parsed by `@xcom/core`) to GCS client options, with
 * Airflow's rules: each extra is read by its short name, then by its legacy name `extra__google_cloud_platform__<name>`
 * (a short name that is present wins even when empty; empty values count as unset).
 *
 * | extra | becomes |
 * |---|---|
 * | `project` | `projectId` |
 * | `key_path` (a `.json` file) | `keyFilename` |
 * | `keyfile_dict` (JSON text or object) | `credentials` (escaped `\n` in `private_key` restored) |
 * | `credential_config_file` (a path, JSON text or object) | `keyFilename` or `credentials` |
 * | `scope` (comma-separated) | `scopes` |
 * | `num_retries` | `maxRetries` |
 * | `is_anonymous` | `anonymous` (no credentials sent) |
 * | `quota_project_id` | `quotaProjectId` |
 * | `gcs.endpoint` (gcsfs), `endpoint`, `api_endpoint` | `apiEndpoint` |
 *
 * With none of the credential extras, the SDK's Application Default Credentials apply. `key_path`, `keyfile_dict`
 * and `credential_config_file` are mutually exclusive, as in Airflow.
 *
 * @throws XComError `E_CONFIG` for another connection type, invalid JSON in `keyfile_dict`, a `.p12` or non-JSON key
 * file, a non-integer `num_retries`, an unrecognised `is_anonymous`, more than one credential source, and the extras
 * this package cannot honour (`impersonation_chain`, `key_secret_name`): ignoring them would silently use other
 * credentials. Messages name the connection and the extra, never its value.
 */
export function gcsOptionsFromConnection(connection: Connection): GcsConnectionOptions {
  const where = `connection "${connection.id}"`
  const fail = (why: string): never => {
    throw new XComError('E_CONFIG', `${where} cannot be used for Google Cloud Storage: ${why}`)
  }
  if (!GCS_CONNECTION_TYPES.includes(connection.connType)) {
    fail(
      `its type is "${connection.connType || '(none)'}"; use a google_cloud_platform connection, e.g. AIRFLOW_CONN_${connection.id.toUpperCase()}='google-cloud-platform://?key_path=%2Fkeys%2Fkey.json&project=my-project'.`,
    )
  }
  const extra = connection.extra ?? {}
  const field = (name: string): unknown => {
    const value = name in extra ? extra[name] : extra[`${PREFIX}${name}`]
    return value === '' || value === null ? undefined : value
  }
  const text = (name: string): string | undefined => {
    const value = field(name)
    if (value === undefined) return undefined
    if (typeof value !== 'string') return fail(`the extra "${name}" must be a string.`)
    return value
  }

  for (const name of ['impersonation_chain', 'key_secret_name'] as const) {
    if (field(name) === undefined) continue
    fail(
      name === 'impersonation_chain'
        ? 'the extra "impersonation_chain" is not supported by @xcom/gcs. Grant the credentials access to the bucket directly, use ADC created with `gcloud auth application-default login --impersonate-service-account=SA`, or build a Storage client with an impersonating auth client and pass it as `client`.'
        : 'the extra "key_secret_name" (a key in Secret Manager) is not supported by @xcom/gcs. Put the key in keyfile_dict or key_path instead.',
    )
  }

  const options: GcsConnectionOptions = {}
  const projectId = text('project')
  if (projectId !== undefined) options.projectId = projectId

  const keyPath = text('key_path')
  const keyfileDict = field('keyfile_dict')
  const credentialConfig = field('credential_config_file')
  const sources = [keyPath, keyfileDict, credentialConfig].filter((value) => value !== undefined).length
  if (sources > 1) {
    fail(
      'the extras key_path, keyfile_dict and credential_config_file are mutually exclusive; keep only one.',
    )
  }
  if (keyPath !== undefined) {
    if (keyPath.toLowerCase().endsWith('.p12'))
      fail('legacy P12 key files (key_path) are not supported; use a JSON key file.')
    if (!keyPath.toLowerCase().endsWith('.json'))
      fail('the key file in key_path must be a .json service account key.')
    options.keyFilename = keyPath
  }
  if (keyfileDict !== undefined) options.credentials = keyJson(keyfileDict, 'keyfile_dict', fail)
  if (credentialConfig !== undefined) {
    if (typeof credentialConfig === 'string' && !credentialConfig.trim().startsWith('{')) {
      options.keyFilename = credentialConfig
    } else {
      options.credentials = keyJson(credentialConfig, 'credential_config_file', fail)
    }
  }

  const scope = text('scope')
  if (scope !== undefined) {
    const scopes = scope
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
    if (scopes.length > 0) options.scopes = scopes
  }

  const retries = field('num_retries')
  if (retries !== undefined) {
    const count = typeof retries === 'string' && /^\s*\d+\s*$/.test(retries) ? Number(retries) : retries
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      fail('the extra "num_retries" must be a whole number >= 0.')
    }
    options.maxRetries = count as number
  }

  const anonymous = field('is_anonymous')
  if (anonymous !== undefined) {
    const flag = typeof anonymous === 'boolean' ? anonymous : parseFlag(String(anonymous))
    if (flag === undefined) fail('the extra "is_anonymous" must be true or false.')
    if (flag) options.anonymous = true
  }

  const quotaProject = text('quota_project_id')
  if (quotaProject !== undefined) options.quotaProjectId = quotaProject

  const gcsfsEndpoint = extra['gcs.endpoint']
  const endpoint =
    (typeof gcsfsEndpoint === 'string' && gcsfsEndpoint !== '' ? gcsfsEndpoint : undefined) ??
    text('endpoint') ??
    text('api_endpoint')
  if (endpoint !== undefined) options.apiEndpoint = endpoint
  return options
}

function parseFlag(value: string): boolean | undefined {
  const lower = value.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(lower)) return true
  if (['false', '0', 'no', 'off'].includes(lower)) return false
  return undefined
}

/** Key JSON from an object or JSON text; the value itself never appears in an error. */
function keyJson(value: unknown, name: string, fail: (why: string) => never): GcsCredentials {
  let json = value
  if (typeof value === 'string') {
    try {
      json = JSON.parse(value)
    } catch {
      return fail(`the extra "${name}" is not valid JSON (its content is not shown, it holds a secret).`)
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail(
      `the extra "${name}" must be a JSON object (a service account key or credential configuration).`,
    )
  }
  const credentials = { ...(json as GcsCredentials) }
  // Airflow restores newlines that were escaped twice when the key was pasted into a form or an environment variable.
  if (typeof credentials.private_key === 'string')
    credentials.private_key = credentials.private_key.replaceAll('\\n', '\n')
  return credentials
}
