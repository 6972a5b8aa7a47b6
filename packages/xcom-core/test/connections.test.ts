import { describe, expect, it } from 'vitest'
import {
  connectionVariableNames,
  EnvConnectionResolver,
  missingConnection,
  parseConnection,
  pySplitUrl,
} from '../src/adapter.ts'
import { XComError } from '../src/index.ts'

function configError(value: string): XComError {
  try {
    parseConnection('my_conn', value, 'AIRFLOW_CONN_MY_CONN')
  } catch (error) {
    expect(XComError.is(error, 'E_CONFIG')).toBe(true)
    return error as XComError
  }
  throw new Error('expected E_CONFIG')
}

describe('Airflow connection URIs', () => {
  it('parses an empty aws connection', () => {
    expect(parseConnection('c', 'aws://')).toEqual({
      id: 'c',
      connType: 'aws',
      host: undefined,
      port: undefined,
      login: undefined,
      password: undefined,
      schema: undefined,
      extra: {},
    })
  })

  it('parses credentials with a trailing @ and a query after /', () => {
    const conn = parseConnection('c', 'aws://KEY:SECRET@/?region_name=eu-central-1')
    expect(conn).toMatchObject({
      connType: 'aws',
      login: 'KEY',
      password: 'SECRET',
      host: undefined,
      extra: { region_name: 'eu-central-1' },
    })
    expect(parseConnection('c', 'aws://KEY:SECRET@')).toMatchObject({
      login: 'KEY',
      password: 'SECRET',
      host: undefined,
    })
  })

  it('parses host?query without a slash', () => {
    expect(
      parseConnection('c', 's3://host.example?endpoint=http%3A%2F%2F127.0.0.1%3A4569&x=a+b'),
    ).toMatchObject({
      host: 'host.example',
      extra: { endpoint: 'http://127.0.0.1:4569', x: 'a b' },
    })
  })

  it('unquotes secrets without turning + into a space, and splits at the last @ and first :', () => {
    const conn = parseConnection('c', 'aws://AK%2FID:se%2Fcr+et%40x:y@host:9000/my%20schema')
    expect(conn).toMatchObject({
      login: 'AK/ID',
      password: 'se/cr+et@x:y',
      host: 'host',
      port: 9000,
      schema: 'my schema',
    })
    expect(parseConnection('c', 'aws://a@b:p@ss@host')).toMatchObject({
      login: 'a@b',
      password: 'p@ss',
      host: 'host',
    })
  })

  it('normalizes the connection type', () => {
    expect(parseConnection('c', 'google-cloud-platform://').connType).toBe('google_cloud_platform')
    expect(parseConnection('c', 'POSTGRESQL://u@h/db').connType).toBe('postgres')
  })

  it('keeps blank values, lets the last duplicate win and reads __extra__ verbatim', () => {
    expect(parseConnection('c', 'x://h?a=1&a=2&b=&c').extra).toEqual({ a: '2', b: '', c: '' })
    const extra = encodeURIComponent(JSON.stringify({ config_kwargs: { s3: { addressing_style: 'path' } } }))
    expect(parseConnection('c', `aws://?__extra__=${extra}&ignored=1`).extra).toEqual({
      config_kwargs: { s3: { addressing_style: 'path' } },
    })
  })

  it('accepts a protocol in the host', () => {
    expect(parseConnection('c', 'wasb://https://account.blob.core.windows.net').host).toBe(
      'https://account.blob.core.windows.net',
    )
  })

  it('rejects malformed URIs with E_CONFIG and never echoes the secret', () => {
    expect(configError('aws://KEY:SECRET').message).not.toContain('SECRET')
    expect(configError('aws://KEY:SECRET').message).toContain('AIRFLOW_CONN_MY_CONN')
    configError('a://b://c://d')
    configError('x://user:pw@https://host')
    configError('host:99999')
    configError('x://h:99999')
  })
})

describe('Airflow connection JSON', () => {
  it('parses all fields with extra as an object or a JSON string', () => {
    const value = JSON.stringify({
      conn_type: 'aws',
      login: 'k',
      password: 's',
      port: '9000',
      extra: JSON.stringify({ endpoint_url: 'http://minio:9000' }),
    })
    expect(parseConnection('c', `  ${value}  `)).toMatchObject({
      connType: 'aws',
      login: 'k',
      password: 's',
      port: 9000,
      extra: { endpoint_url: 'http://minio:9000' },
    })
  })

  it('rejects unknown keys, bad JSON and bad extra', () => {
    expect(configError('{"conn_type":"aws","secret":"x"}').message).toContain('secret')
    configError('{"conn_type":')
    configError('{"extra":"not json"}')
    configError('{"extra":[1]}')
    configError('[1]')
    configError('{"port":"x"}')
  })
})

describe('EnvConnectionResolver', () => {
  it('reads XCOM_CONN_ before AIRFLOW_CONN_, uppercasing the id and keeping - and .', async () => {
    const resolver = new EnvConnectionResolver({
      'XCOM_CONN_MY-CONN.1': 's3://a:b@',
      'AIRFLOW_CONN_MY-CONN.1': 'aws://x:y@',
      AIRFLOW_CONN_OTHER: 'aws://o:p@',
      XCOM_CONN_EMPTY: '  ',
    })
    expect(await resolver.get('my-conn.1')).toMatchObject({ id: 'my-conn.1', connType: 's3', login: 'a' })
    expect(await resolver.get('other')).toMatchObject({ connType: 'aws', login: 'o' })
    expect(await resolver.get('empty')).toBeUndefined()
    expect(await resolver.get('missing')).toBeUndefined()
  })

  it('finds a hyphenated id under the name a shell can export, after the Airflow names', async () => {
    const resolver = new EnvConnectionResolver({
      AIRFLOW_CONN_MY_CONN: 'aws://shell:y@',
      'XCOM_CONN_EXACT-ID': 'aws://exact:y@',
      XCOM_CONN_EXACT_ID: 'aws://shell:y@',
    })
    expect(await resolver.get('my-conn')).toMatchObject({ id: 'my-conn', login: 'shell' })
    expect(await resolver.get('exact-id')).toMatchObject({ login: 'exact' })
    expect(resolver.variableFor('my-conn')).toBe('AIRFLOW_CONN_MY_CONN')
    expect(connectionVariableNames('my-conn.1')).toEqual([
      'XCOM_CONN_MY-CONN.1',
      'AIRFLOW_CONN_MY-CONN.1',
      'XCOM_CONN_MY_CONN_1',
      'AIRFLOW_CONN_MY_CONN_1',
    ])
    expect(connectionVariableNames('plain')).toEqual(['XCOM_CONN_PLAIN', 'AIRFLOW_CONN_PLAIN'])
  })

  it('hints an export line a shell accepts for a missing connection, in the spelling of the setting', () => {
    const xcom = missingConnection('my-conn', 'XCOM_OBJECTSTORAGE_PATH')
    expect(xcom.code).toBe('E_CONFIG')
    expect(xcom.message).toContain('names the connection "my-conn", which is not defined')
    expect(xcom.message).toContain("export XCOM_CONN_MY_CONN='<URI or JSON>' (or AIRFLOW_CONN_MY_CONN)")
    const airflow = missingConnection('my-conn', 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH')
    expect(airflow.message).toContain("export AIRFLOW_CONN_MY_CONN='<URI or JSON>' (or XCOM_CONN_MY_CONN)")
    expect(airflow.message).not.toContain('MY-CONN')
    expect(missingConnection('KEY:SECRET', 'XCOM_OBJECTSTORAGE_PATH').message).not.toContain('SECRET')
  })

  it('names the variable in errors', async () => {
    const resolver = new EnvConnectionResolver({ AIRFLOW_CONN_BAD: 'aws://KEY:SECRET' })
    await expect(resolver.get('bad')).rejects.toThrow(/AIRFLOW_CONN_BAD/)
  })
})

describe('connection errors never show a secret', () => {
  it.each([
    ['aws://KEY:SECRET', 'SECRET'],
    ['aws://KEY:SE/CRET@', 'CRET'],
    ['x://user:SECRET@https://host', 'SECRET'],
    ['x://u:SE%2FCRET@h:99999', 'SE%2FCRET'],
    ['{"conn_type":"aws","password":"SECRET"', 'SECRET'],
    ['{"conn_type":"aws","password":"SECRET","extra":"not json"}', 'SECRET'],
    ['{"conn_type":"aws","password":"SECRET","port":"x"}', 'SECRET'],
    ['{"conn_type":"aws","password":"SECRET","extra":{"a":1},"typo":1}', 'SECRET'],
  ])('%s', (value, secret) => {
    expect(configError(value).message).not.toContain(secret)
  })

  it('masks a connection id read from userinfo, in the default source and the variable name', async () => {
    let message = ''
    try {
      parseConnection('KEY:SECRET', 'aws://KEY:SECRET')
    } catch (error) {
      message = (error as XComError).message
    }
    expect(message).toContain('connection KEY:***')
    expect(message).not.toContain('SECRET')
    const resolver = new EnvConnectionResolver({ 'XCOM_CONN_KEY:SECRET': 'aws://KEY:SECRET' })
    const error = await resolver.get('KEY:SECRET').catch((caught: unknown) => caught)
    expect(XComError.is(error, 'E_CONFIG')).toBe(true)
    expect((error as XComError).message).toContain('XCOM_CONN_KEY:***')
    expect((error as XComError).message).not.toContain('SECRET')
  })
})

describe('pySplitUrl', () => {
  it('splits like Python urlsplit', () => {
    expect(pySplitUrl('s3://conn@bucket/a/b?x=1#f')).toMatchObject({
      scheme: 's3',
      netloc: 'conn@bucket',
      userinfo: 'conn',
      hostname: 'bucket',
      path: '/a/b',
      query: 'x=1',
      fragment: 'f',
    })
    expect(pySplitUrl('file:///tmp/x')).toMatchObject({ scheme: 'file', netloc: '', path: '/tmp/x' })
    expect(pySplitUrl('x://[::1]:80/p')).toMatchObject({ hostname: '::1', portText: '80' })
  })
})
