import { readFileSync } from 'node:fs'
import type { S3ClientConfig } from '@aws-sdk/client-s3'
import { type Connection, XComError } from '@xcom/core'
import type { S3ObjectStoreOptions } from './options.ts'

/** The client settings a connection can carry: what {@link s3OptionsFromConnection} returns. */
export type S3ConnectionOptions = Pick<
  S3ObjectStoreOptions,
  'region' | 'endpoint' | 'forcePathStyle' | 'credentials' | 'clientConfig' | 'retryOptions' | 'connectionId'
>

/**
 * Maps a parsed connection (`XCOM_CONN_<ID>` / `AIRFLOW_CONN_<ID>`, see `parseConnection` in `@xcom/core`) to
 * `S3ObjectStore` options, with the Amazon provider's rules:
 *
 * - credentials: `login` + `password` (access key id + secret), else extras `aws_access_key_id` +
 *   `aws_secret_access_key`; extra `aws_session_token`. Neither: the SDK's default chain (env, profile, SSO, IMDS...).
 * - `region_name` (or `region`) -> region; `endpoint_url` (or `endpoint`) -> endpoint, overridden by
 *   `service_config.s3.endpoint_url`; `config_kwargs.s3.addressing_style` `"path"` -> path-style (`"virtual"` ->
 *   virtual-hosted; `force_path_style=true` also works); `config_kwargs.retries` `max_attempts` /
 *   `total_max_attempts` / `mode` -> `retryOptions` (`maxAttempts`, `retryMode`); `config_kwargs.connect_timeout` /
 *   `read_timeout` (seconds) -> timeouts.
 * - `profile_name` -> the SDK's `profile` (read from ~/.aws/config and ~/.aws/credentials).
 * - `verify`: `false` (or "false"/"0") turns TLS certificate checks off, as boto3 does; a path names a CA bundle.
 * - The connection's `host`, `port` and `schema` are not used (as in Airflow; use `endpoint_url`).
 *
 * xcom's own short form `s3://KEY:SECRET@?region=eu-west-1&endpoint=http://127.0.0.1:4569&force_path_style=true`
 * parses to the same fields and is read by the same rules.
 *
 * @throws XComError `E_CONFIG` naming the connection (never a secret) for: half a key pair, `role_arn` (assuming a
 * role needs @aws-sdk/client-sts, which this package does not bundle: configure the role in an AWS profile and set
 * `profile_name`, or pass `credentials` from `@aws-sdk/credential-providers` yourself), a malformed `service_config`
 * or `config_kwargs`, or an unreadable CA bundle.
 */
export function s3OptionsFromConnection(connection: Connection): S3ConnectionOptions {
  const extra = connection.extra ?? {}
  const where = `connection "${connection.id}"`
  const fail = (why: string): never => {
    throw new XComError('E_CONFIG', `The ${where} cannot be used for S3: ${why}`)
  }
  const str = (name: string): string | undefined => {
    const value = extra[name]
    if (value === undefined || value === null || value === '') return undefined
    if (typeof value !== 'string') return fail(`extra "${name}" must be a string.`)
    return value
  }
  const object = (value: unknown, name: string): Record<string, unknown> => {
    if (value === undefined || value === null) return {}
    if (typeof value !== 'object' || Array.isArray(value))
      return fail(`extra "${name}" must be a JSON object.`)
    return value as Record<string, unknown>
  }

  if (str('role_arn') !== undefined) {
    fail(
      'extra "role_arn" (assume role) is not supported by @xcom/s3, which bundles no STS client. Put the role in an AWS ' +
        'profile (role_arn + source_profile in ~/.aws/config) and set extra "profile_name", or build the store in code ' +
        'with credentials from fromTemporaryCredentials() of @aws-sdk/credential-providers.',
    )
  }

  const options: S3ConnectionOptions = { connectionId: connection.id }
  const clientConfig: S3ClientConfig = {}
  const retryOptions: NonNullable<S3ConnectionOptions['retryOptions']> = {}

  const keyId = connection.login || undefined
  const secret = connection.password || undefined
  const extraKeyId = str('aws_access_key_id')
  const extraSecret = str('aws_secret_access_key')
  if ((keyId === undefined) !== (secret === undefined)) {
    fail(
      `it has ${keyId ? 'a login (access key id) but no password (secret access key)' : 'a password but no login'}; set both, or neither to use the AWS default credential chain.`,
    )
  }
  if ((extraKeyId === undefined) !== (extraSecret === undefined)) {
    fail('extras "aws_access_key_id" and "aws_secret_access_key" must be set together.')
  }
  const sessionToken = str('aws_session_token')
  const accessKeyId = keyId ?? extraKeyId
  const secretAccessKey = secret ?? extraSecret
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    options.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
  }

  const region = str('region_name') ?? str('region')
  if (region !== undefined) options.region = region
  const s3Service = object(object(extra.service_config, 'service_config').s3, 'service_config.s3')
  const endpoint = (s3Service.endpoint_url as string | undefined) || str('endpoint_url') || str('endpoint')
  if (endpoint !== undefined) {
    if (typeof endpoint !== 'string' || !/^https?:\/\/[^/]/i.test(endpoint)) {
      fail(
        'the endpoint (extra "endpoint_url" or "service_config.s3.endpoint_url") must be an http:// or https:// URL.',
      )
    }
    options.endpoint = endpoint
  }

  const configKwargs = object(extra.config_kwargs, 'config_kwargs')
  const addressing = object(configKwargs.s3, 'config_kwargs.s3').addressing_style
  if (addressing === 'path') options.forcePathStyle = true
  else if (addressing === 'virtual') options.forcePathStyle = false
  else if (addressing !== undefined && addressing !== 'auto') {
    fail('config_kwargs.s3.addressing_style must be "path", "virtual" or "auto".')
  }
  const pathStyle = extra.force_path_style
  if (pathStyle !== undefined && options.forcePathStyle === undefined)
    options.forcePathStyle = isTrue(pathStyle)

  const retries = object(configKwargs.retries, 'config_kwargs.retries')
  const attempts =
    retries.total_max_attempts ??
    (retries.max_attempts === undefined ? undefined : Number(retries.max_attempts) + 1)
  if (attempts !== undefined) {
    if (!Number.isInteger(Number(attempts)) || Number(attempts) < 1)
      fail('config_kwargs.retries attempts must be integers >= 0.')
    retryOptions.maxAttempts = Number(attempts)
  }
  if (retries.mode !== undefined)
    retryOptions.retryMode = retries.mode === 'adaptive' ? 'adaptive' : 'standard'
  if (Object.keys(retryOptions).length > 0) options.retryOptions = retryOptions

  const handler: Record<string, unknown> = {}
  for (const [name, setting] of [
    ['connect_timeout', 'connectionTimeout'],
    ['read_timeout', 'requestTimeout'],
  ] as const) {
    const seconds = configKwargs[name]
    if (seconds === undefined) continue
    if (!(Number(seconds) >= 0)) fail(`config_kwargs.${name} must be a number of seconds.`)
    handler[setting] = Number(seconds) * 1000
  }
  const verify = extra.verify
  if (verify !== undefined && verify !== null && !isTrue(verify)) {
    if (isFalse(verify)) {
      handler.httpsAgent = { rejectUnauthorized: false }
    } else if (typeof verify === 'string') {
      try {
        handler.httpsAgent = { ca: readFileSync(verify) }
      } catch (error) {
        throw new XComError(
          'E_CONFIG',
          `The ${where}: extra "verify" names a CA bundle that cannot be read (${verify}).`,
          {
            cause: error,
          },
        )
      }
    }
  }
  if (Object.keys(handler).length > 0) clientConfig.requestHandler = handler

  const profile = str('profile_name')
  if (profile !== undefined) clientConfig.profile = profile
  if (Object.keys(clientConfig).length > 0) options.clientConfig = clientConfig
  return options
}

function isTrue(value: unknown): boolean {
  return value === true || (typeof value === 'string' && /^(true|1|yes)$/i.test(value))
}

function isFalse(value: unknown): boolean {
  return value === false || (typeof value === 'string' && /^(false|0|no)$/i.test(value))
}
