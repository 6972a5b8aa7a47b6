import { describe, expect, it } from 'vitest'
import { isSecretName, maskConnectionId, maskConnectionValue, maskText, maskUrl } from '../src/adapter.ts'

/** One input: what must never show, what must still show, and optionally the exact output. */
interface Case {
  input: string
  secrets: string[]
  kept: string[]
  exact?: string
}

function expectMasked(output: string, { secrets, kept, exact }: Case): void {
  for (const secret of secrets) expect(output).not.toContain(secret)
  for (const part of kept) expect(output).toContain(part)
  if (exact !== undefined) expect(output).toBe(exact)
}

const urls: Case[] = [
  {
    input: 'postgres://u:a@secret@host/db',
    secrets: ['a@secret', 'secret'],
    kept: ['u', 'host/db'],
    exact: 'postgres://u:***@host/db',
  },
  { input: 'postgres://user:hunter2@db/xcom', secrets: ['hunter2'], kept: ['user', 'db/xcom'] },
  {
    input: 'POSTGRESQL://U:Hunter2@H:5432/DB',
    secrets: ['Hunter2'],
    exact: 'POSTGRESQL://U:***@H:5432/DB',
    kept: [],
  },
  {
    input: 'postgres://u:a%40secret@host/db',
    secrets: ['secret'],
    exact: 'postgres://u:***@host/db',
    kept: [],
  },
  { input: 'postgres://u:p@ss:w@rd@host:5432/db', secrets: ['ss', 'w@rd'], kept: ['u:***@host:5432/db'] },
  // an unencoded '/', '?', '#' or space ends the authority early for parsers; it is still the password
  {
    input: 'postgres://u:pa/ss@host/db',
    secrets: ['pa/ss', 'ss@'],
    exact: 'postgres://u:***@host/db',
    kept: [],
  },
  {
    input: 'postgres://u:pa?ss@host/db?x=1',
    secrets: ['pa?ss'],
    exact: 'postgres://u:***@host/db?x=1',
    kept: [],
  },
  { input: 'postgres://u:pa#ss@host/db', secrets: ['pa#ss'], exact: 'postgres://u:***@host/db', kept: [] },
  { input: 'postgres://u:pa ss@host/db', secrets: ['pa ss'], exact: 'postgres://u:***@host/db', kept: [] },
  {
    input: 'postgres://u:pw@[::1]:5432/db',
    secrets: ['pw'],
    exact: 'postgres://u:***@[::1]:5432/db',
    kept: [],
  },
  {
    input: 'postgres://user@host/db?password=hunter2&sslmode=require',
    secrets: ['hunter2'],
    kept: ['user@host/db', 'sslmode=require'],
  },
  {
    input: 'postgresql://host/db?sslpassword=x1x&PassWd=x2x&pwd=x3x&application_name=app',
    secrets: ['x1x', 'x2x', 'x3x'],
    kept: ['host/db', 'application_name=app'],
  },
  { input: 'postgres://host/db?pass%77ord=x1x&%70assword=x2x', secrets: ['x1x', 'x2x'], kept: ['host/db'] },
  { input: 's3://KEY:SECRET@bucket/x', secrets: ['SECRET'], exact: 's3://KEY:***@bucket/x', kept: [] },
  {
    input: 's3://AKIA:ab/cd+ef@bucket/x',
    secrets: ['ab/cd+ef', 'cd+ef'],
    exact: 's3://AKIA:***@bucket/x',
    kept: [],
  },
  { input: 's3://KEY%3ASECRET@bucket/x', secrets: ['SECRET'], kept: ['KEY', 'bucket/x'] },
  { input: 'abfs://acct:ACCOUNTKEY@container/x', secrets: ['ACCOUNTKEY'], kept: ['acct', 'container/x'] },
  {
    input: 's3://bucket/x?aws_secret_access_key=SAK&aws_access_key_id=AKID&region_name=eu-west-1',
    secrets: ['SAK', 'AKID'],
    kept: ['s3://bucket/x', 'region_name=eu-west-1'],
  },
  {
    input: 'abfs://container@acct.dfs.core.windows.net/x?sas_token=sv%3D2020%26sig%3DSIGVALUE',
    secrets: ['SIGVALUE'],
    kept: ['container@acct.dfs.core.windows.net/x'],
  },
  {
    input: 'https://acct.blob.core.windows.net/c?sv=2020-08-04&ss=b&sig=SIG%2BVALUE%3D',
    secrets: ['SIG'],
    kept: ['acct.blob.core.windows.net/c', 'sv=2020-08-04', 'ss=b'],
  },
  {
    input: 'wasb://?connection_string=AccountName%3Dacct%3BAccountKey%3DSECRET&x=1',
    secrets: ['SECRET'],
    kept: ['x=1'],
  },
  {
    input: 'gs://bucket/x?credential=C1C&auth=A1A&private_key=P1P&token=T1T&signature=S1S',
    secrets: ['C1C', 'A1A', 'P1P', 'T1T', 'S1S'],
    kept: ['gs://bucket/x'],
  },
  { input: 'x://h/p#access_token=SECRET', secrets: ['SECRET'], kept: ['x://h/p#access_token=***'] },
  {
    input: 's3://b/x?endpoint_url=http%3A%2F%2Fu%3ASECRETPW%40minio%3A9000',
    secrets: ['SECRETPW'],
    kept: ['s3://b/x', 'minio'],
  },
  {
    input: `aws://?__extra__=${encodeURIComponent('{"aws_secret_access_key":"SAK","region_name":"eu"}')}`,
    secrets: ['SAK'],
    kept: ['region_name', 'eu'],
  },
  { input: 'aws://?__extra__=%7Bnot-json', secrets: ['not-json'], kept: ['aws://?__extra__='] },
  {
    input: 'wasb://https://acct:SECRETKEY@acct.blob.core.windows.net',
    secrets: ['SECRETKEY'],
    kept: ['acct.blob.core.windows.net'],
  },
  // without a scheme, and malformed
  { input: 'u:secret@host/db', secrets: ['secret'], exact: 'u:***@host/db', kept: [] },
  { input: '//u:secret@host', secrets: ['secret'], exact: '//u:***@host', kept: [] },
  { input: 'host/db?password=secret', secrets: ['secret'], exact: 'host/db?password=***', kept: [] },
  { input: 'aws://KEY:SECRET', secrets: ['SECRET'], exact: 'aws://KEY:***', kept: [] },
  { input: 'x://u:%zz%E0SECRET@h', secrets: ['SECRET'], kept: ['@h'] },
  { input: 'x://[::1:SECRET', secrets: ['SECRET'], kept: [] },
  { input: 'x://h?%zzpassword=SECRET', secrets: ['SECRET'], kept: [] },
]

const unchanged = [
  's3://conn@bucket/xcom',
  'postgres://user@host:5432/db?sslmode=require',
  'sqlite://.xcom/xcom.db',
  'sqlite:///var/lib/xcom.db',
  'sqlite://:memory:',
  'file:///tmp/@scope/x',
  'memory://',
  '@xcom/objectstore#ObjectStoreXComBackend',
  './backend.mjs#MyBackend',
  '65536',
  'x://h?token&key=',
  '',
]

describe('maskUrl', () => {
  it.each(urls)('masks $input', (entry) => expectMasked(maskUrl(entry.input), entry))
  it.each(unchanged)('leaves %j as it is', (input) => expect(maskUrl(input)).toBe(input))

  it('never throws', () => {
    for (const input of [undefined, null, 42, '%', '@', ':', '://', '?&=;#'] as unknown as string[]) {
      expect(() => maskUrl(input)).not.toThrow()
    }
    expect(maskUrl('a'.repeat(200_000))).toHaveLength(200_000)
  })
})

describe('maskConnectionValue', () => {
  const json = (value: unknown) => JSON.stringify(value)
  const connections: Case[] = [
    {
      input: 'aws://KEY:SECRET@/?region_name=eu-central-1',
      secrets: ['SECRET'],
      kept: ['KEY', 'region_name'],
    },
    { input: 'aws://KEY:SE/CR+ET@', secrets: ['SE/CR+ET', 'CR+ET'], kept: ['aws://KEY:***@'] },
    {
      input: json({
        conn_type: 'aws',
        login: 'k',
        password: 'PW1',
        extra: {
          aws_secret_access_key: 'SAK1',
          aws_session_token: 'TOK1',
          endpoint_url: 'http://u:EP1@minio:9000',
          config_kwargs: { s3: { addressing_style: 'path' } },
        },
      }),
      secrets: ['PW1', 'SAK1', 'TOK1', 'EP1'],
      kept: ['"login":"k"', 'minio:9000', 'addressing_style'],
    },
    {
      input: json({
        conn_type: 'aws',
        password: 'PW1',
        extra: json({ aws_secret_access_key: 'SAK1', x: 1 }),
      }),
      secrets: ['PW1', 'SAK1'],
      kept: ['aws', 'aws_secret_access_key'],
    },
    {
      input: json({
        conn_type: 'google_cloud_platform',
        extra: {
          keyfile_dict: { private_key: '-----BEGIN PRIVATE KEY-----PK1', client_email: 'sa@p.iam' },
          extra__google_cloud_platform__keyfile_dict: json({ private_key: 'PK2' }),
          project: 'proj',
        },
      }),
      secrets: ['PK1', 'PK2', 'sa@p.iam'],
      kept: ['proj'],
    },
    {
      input: json({
        conn_type: 'wasb',
        login: 'acct',
        host: 'https://u:HP1@acct.blob.core.windows.net/?sig=SIG1',
        extra: {
          connection_string: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=AK1',
          sas_token: 'sv=2020&sig=SIG2',
          shared_access_key: 'SAK1',
          account_key: 'AK2',
          tenant_id: 'tenant',
          description: 'AccountKey=AK3;Endpoint=x',
        },
      }),
      secrets: ['HP1', 'SIG1', 'AK1', 'SIG2', 'SAK1', 'AK2', 'AK3'],
      kept: ['acct.blob.core.windows.net', 'tenant', 'Endpoint=x'],
    },
    { input: '{"password":"SECRET"', secrets: ['SECRET'], kept: [], exact: '***' },
    { input: json({ extra: '{not json SECRET' }), secrets: ['SECRET'], kept: ['extra'] },
    { input: json({ password: null, login: 'u' }), secrets: [], kept: ['"password":null', '"login":"u"'] },
  ]
  it.each(connections)('masks $input', (entry) => expectMasked(maskConnectionValue(entry.input), entry))
})

describe('maskText', () => {
  const texts: Case[] = [
    {
      input: 'XCOM_METADATA_URL=postgres://u:a@secret@host/db is not valid',
      secrets: ['secret'],
      exact: 'XCOM_METADATA_URL=postgres://u:***@host/db is not valid',
      kept: [],
    },
    {
      input: 'could not connect to "https://user:SECRET@host/p?sig=SIG1", retrying.',
      secrets: ['SECRET', 'SIG1'],
      kept: ['could not connect to', 'user', 'host/p', 'retrying.'],
    },
    { input: 'bad: {"password":"SEC\\"RET","host":"h"}', secrets: ['SEC', 'RET'], kept: ['"host":"h"'] },
    { input: '{"extra": "{\\"password\\": \\"SECRET\\"}"}', secrets: ['SECRET'], kept: ['password'] },
    {
      input: "got {'aws_secret_access_key': 'SAK', 'region': 'eu'}",
      secrets: ['SAK'],
      kept: ["'region': 'eu'"],
    },
    { input: 'AccountKey=AK1;EndpointSuffix=core.windows.net', secrets: ['AK1'], kept: ['EndpointSuffix'] },
    { input: 'token=T1 and password=postgres://x@y', secrets: ['T1', 'x@y'], kept: ['and'] },
    { input: 'use KEY:SECRET@bucket here', secrets: ['SECRET'], kept: ['KEY', 'bucket', 'here'] },
  ]
  it.each(texts)('masks $input', (entry) => expectMasked(maskText(entry.input), entry))

  it('leaves ordinary messages alone', () => {
    const message =
      'XCOM_BACKEND needs the package @xcom/not-installed, which is not installed: run `npm install @xcom/not-installed`. See s3://conn@bucket/x.'
    expect(maskText(message)).toBe(message)
  })
})

describe('isSecretName and maskConnectionId', () => {
  it.each([
    'password',
    'PASSWD',
    'pwd',
    'client_secret',
    'aws_session_token',
    'access_key',
    'account_key',
    'aws_secret_access_key',
    'private_key',
    'key_path',
    'keyfile_dict',
    'sas_token',
    'signature',
    'sig',
    'X-Amz-Credential',
    'credentials',
    'auth',
    'connection_string',
    '%70assword',
  ])('%s is secret', (name) => expect(isSecretName(name)).toBe(true))

  it.each([
    'region_name',
    'endpoint_url',
    'project',
    'host',
    'login',
    'schema',
    'addressing_style',
    'tenant_id',
  ])('%s is not', (name) => expect(isSecretName(name)).toBe(false))

  it('masks what follows a colon in an id read from userinfo', () => {
    expect(maskConnectionId('my_conn')).toBe('my_conn')
    expect(maskConnectionId('KEY:SECRET')).toBe('KEY:***')
    expect(maskConnectionId('XCOM_CONN_KEY%3ASECRET')).toBe('XCOM_CONN_KEY%3A***')
  })
})
