import type { Connection } from '@xcom/core'
import { parseConnection } from '@xcom/core/adapter'
import { expectXComError } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { s3OptionsFromConnection } from '../src/connection.ts'

/** Parses a value the way `AIRFLOW_CONN_MY_AWS` would be, then maps it. */
const fromValue = (value: string) => s3OptionsFromConnection(parseConnection('my_aws', value))

/** The E_CONFIG error of mapping `value`. */
const configError = (value: string) => expectXComError(() => fromValue(value), 'E_CONFIG')

describe('s3OptionsFromConnection: Airflow aws connection forms', () => {
  it('aws:// (empty) uses the SDK default chain', () => {
    expect(fromValue('aws://')).toEqual({ connectionId: 'my_aws' })
  })

  it('aws://KEY:SECRET@ gives static credentials', () => {
    expect(fromValue('aws://AKIDEXAMPLE:wJalr%2FK7MDENG%2BbPxRfi@')).toEqual({
      connectionId: 'my_aws',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalr/K7MDENG+bPxRfi' },
    })
  })

  it('keeps "+" in secrets (unquote, not unquote_plus)', () => {
    expect(fromValue('aws://KEY:a+b@').credentials).toEqual({ accessKeyId: 'KEY', secretAccessKey: 'a+b' })
  })

  it('aws://KEY:SECRET@/?region_name=eu-central-1 sets the region', () => {
    expect(fromValue('aws://KEY:SECRET@/?region_name=eu-central-1')).toEqual({
      connectionId: 'my_aws',
      credentials: { accessKeyId: 'KEY', secretAccessKey: 'SECRET' },
      region: 'eu-central-1',
    })
  })

  it('accepts host?query without a slash', () => {
    expect(fromValue('aws://KEY:SECRET@?region_name=us-west-2').region).toBe('us-west-2')
  })

  it('JSON with endpoint_url and config_kwargs.s3.addressing_style=path (MinIO)', () => {
    const value = JSON.stringify({
      conn_type: 'aws',
      login: 'k',
      password: 's',
      extra: { endpoint_url: 'http://minio:9000', config_kwargs: { s3: { addressing_style: 'path' } } },
    })
    expect(fromValue(value)).toEqual({
      connectionId: 'my_aws',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      endpoint: 'http://minio:9000',
      forcePathStyle: true,
    })
  })

  it('extra given as a JSON string in JSON form', () => {
    const value = JSON.stringify({ conn_type: 'aws', extra: JSON.stringify({ region_name: 'ap-south-1' }) })
    expect(fromValue(value).region).toBe('ap-south-1')
  })

  it('__extra__ in a URI carries nested extras verbatim', () => {
    const extra = encodeURIComponent(
      JSON.stringify({ endpoint_url: 'http://h:1', config_kwargs: { s3: { addressing_style: 'virtual' } } }),
    )
    expect(fromValue(`aws://?__extra__=${extra}`)).toEqual({
      connectionId: 'my_aws',
      endpoint: 'http://h:1',
      forcePathStyle: false,
    })
  })

  it('service_config.s3.endpoint_url overrides endpoint_url', () => {
    const value = JSON.stringify({
      conn_type: 'aws',
      extra: {
        endpoint_url: 'http://global:1',
        service_config: { s3: { endpoint_url: 'https://s3-only:2' } },
      },
    })
    expect(fromValue(value).endpoint).toBe('https://s3-only:2')
  })

  it.each([
    [
      'extras aws_access_key_id / aws_secret_access_key / aws_session_token',
      { extra: { aws_access_key_id: 'AK', aws_secret_access_key: 'SK', aws_session_token: 'TOKEN' } },
      { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'TOKEN' },
    ],
    [
      'login/password win over extras, and the session token still applies',
      {
        login: 'L',
        password: 'P',
        extra: { aws_access_key_id: 'AK', aws_secret_access_key: 'SK', aws_session_token: 'T' },
      },
      { accessKeyId: 'L', secretAccessKey: 'P', sessionToken: 'T' },
    ],
  ])('%s', (_, fields, credentials) => {
    expect(fromValue(JSON.stringify({ conn_type: 'aws', ...fields })).credentials).toEqual(credentials)
  })

  it('profile_name becomes the SDK profile (no extra package needed)', () => {
    expect(fromValue('aws://?profile_name=analytics').clientConfig).toEqual({ profile: 'analytics' })
  })

  it('config_kwargs retries and timeouts become SDK settings', () => {
    const value = JSON.stringify({
      conn_type: 'aws',
      extra: {
        config_kwargs: {
          retries: { max_attempts: 4, mode: 'adaptive' },
          connect_timeout: 2,
          read_timeout: 30,
        },
      },
    })
    const options = fromValue(value)
    expect(options.retryOptions).toEqual({ maxAttempts: 5, retryMode: 'adaptive' })
    expect(options.clientConfig).toEqual({
      requestHandler: { connectionTimeout: 2000, requestTimeout: 30_000 },
    })
    const total = JSON.stringify({
      conn_type: 'aws',
      extra: { config_kwargs: { retries: { total_max_attempts: 2 } } },
    })
    expect(fromValue(total).retryOptions).toEqual({ maxAttempts: 2 })
  })

  it('verify=false turns certificate checks off; verify=true changes nothing', () => {
    expect(fromValue('aws://?verify=false').clientConfig).toEqual({
      requestHandler: { httpsAgent: { rejectUnauthorized: false } },
    })
    expect(fromValue(JSON.stringify({ conn_type: 'aws', extra: { verify: false } })).clientConfig).toEqual({
      requestHandler: { httpsAgent: { rejectUnauthorized: false } },
    })
    expect(fromValue('aws://?verify=true')).toEqual({ connectionId: 'my_aws' })
  })

  it('verify=<path> reads a CA bundle; an unreadable one is E_CONFIG', async () => {
    const options = fromValue(`aws://?verify=${encodeURIComponent(new URL(import.meta.url).pathname)}`)
    expect(
      (options.clientConfig as { requestHandler: { httpsAgent: { ca: Buffer } } }).requestHandler.httpsAgent
        .ca,
    ).toBeInstanceOf(Buffer)
    expect((await configError('aws://?verify=/no/such/ca.pem')).message).toContain('/no/such/ca.pem')
  })

  it('ignores host, port and schema as Airflow does', () => {
    expect(fromValue('aws://KEY:SECRET@somehost:9000/schema')).toEqual({
      connectionId: 'my_aws',
      credentials: { accessKeyId: 'KEY', secretAccessKey: 'SECRET' },
    })
  })
})

describe("s3OptionsFromConnection: xcom's s3:// form", () => {
  it('s3://KEY:SECRET@?region=..&endpoint=.. (the endpoint percent-encoded)', () => {
    expect(
      fromValue(
        's3://KEY:SECRET@?region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A4569&force_path_style=true',
      ),
    ).toEqual({
      connectionId: 'my_aws',
      credentials: { accessKeyId: 'KEY', secretAccessKey: 'SECRET' },
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4569',
      forcePathStyle: true,
    })
  })

  it('an unencoded "://" in the query is refused by the Airflow URI rules (two "://")', async () => {
    await configError('s3://KEY:SECRET@?endpoint=http://127.0.0.1:4569')
  })

  it('a JSON object connection works the same', () => {
    const connection: Connection = {
      id: 'c',
      connType: 's3',
      extra: { region: 'us-east-2', endpoint: 'https://e' },
    }
    expect(s3OptionsFromConnection(connection)).toEqual({
      connectionId: 'c',
      region: 'us-east-2',
      endpoint: 'https://e',
    })
  })
})

describe('s3OptionsFromConnection: refused settings', () => {
  it('role_arn is E_CONFIG (not silently ignored) and says what to do', async () => {
    const error = await configError('aws://KEY:TOPSECRET@?role_arn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx')
    expect(error.message).toContain('role_arn')
    expect(error.message).toContain('profile_name')
    expect(error.message).not.toContain('TOPSECRET')
  })

  it('half a key pair is E_CONFIG without the secret in the message', async () => {
    expect((await configError('aws://KEYONLY@')).message).toContain('no password')
    expect((await configError('aws://:TOPSECRET@')).message).not.toContain('TOPSECRET')
    const extra = JSON.stringify({ conn_type: 'aws', extra: { aws_secret_access_key: 'TOPSECRET' } })
    expect((await configError(extra)).message).not.toContain('TOPSECRET')
  })

  it('malformed endpoint, addressing style, config objects and retries are E_CONFIG', async () => {
    for (const extra of [
      { config_kwargs: { s3: { addressing_style: 'x' } } },
      { service_config: 'nope' },
      { config_kwargs: { retries: { max_attempts: -3 } } },
      { region_name: 5 },
    ]) {
      await configError(JSON.stringify({ conn_type: 'aws', extra }))
    }
    await configError('aws://?endpoint_url=minio:9000')
  })
})
