import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import {
  AIRFLOW_BACKEND_CLASSES,
  BaseXComBackend,
  MemoryMetadataStore,
  OBJECT_STORAGE_BACKEND,
  printableConfig,
  readXComConfig,
  XCom,
  XComError,
} from '../src/index.ts'

async function configError(env: Record<string, string>): Promise<XComError> {
  try {
    await XCom.fromEnv(env)
  } catch (error) {
    expect(XComError.is(error, 'E_CONFIG')).toBe(true)
    return error as XComError
  }
  throw new Error('expected E_CONFIG')
}

describe('XCom.fromEnv', () => {
  it('builds the default backend on a memory database', async () => {
    const xcom = await XCom.fromEnv({ XCOM_METADATA_URL: 'memory://' })
    expect(xcom.metadata).toBeInstanceOf(MemoryMetadataStore)
    expect(xcom.backend).toBeInstanceOf(BaseXComBackend)
    await xcom.push({ dagId: 'd', runId: 'r', taskId: 't' }, [1])
    expect(await xcom.pull({ dagId: 'd', runId: 'r', taskId: 't' })).toEqual([1])
  })

  it('loads a backend from a file path with module#Export, through static fromEnv', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xcom-backend-'))
    const file = join(dir, 'backend.mjs')
    writeFileSync(
      file,
      `export class MyBackend {
        static fromEnv(env, context) { const b = new MyBackend(); b.flag = env.MY_FLAG; b.hasConnections = typeof context.connections.get === 'function'; return b }
        async serializeValue(value) { return { kind: 'inline', data: JSON.stringify(value), size: 1 } }
        async deserializeValue(stored) { return JSON.parse(stored.data) }
        async purge() {}
        display() { return 'mine' }
      }
      export const notABackend = 42`,
    )
    const xcom = await XCom.fromEnv({
      XCOM_METADATA_URL: 'memory://',
      XCOM_BACKEND: `${file}#MyBackend`,
      MY_FLAG: 'on',
    })
    expect(xcom.backend).toMatchObject({ flag: 'on', hasConnections: true })
    const airflow = await XCom.fromEnv({
      XCOM_METADATA_URL: 'memory://',
      AIRFLOW__CORE__XCOM_BACKEND: `${file}#MyBackend`,
    })
    expect(airflow.backend.display({ kind: 'inline', data: '1', size: 1 })).toBe('mine')
    expect(
      (await configError({ XCOM_METADATA_URL: 'memory://', XCOM_BACKEND: `${file}#Missing` })).message,
    ).toContain('MyBackend')
    expect(
      (await configError({ XCOM_METADATA_URL: 'memory://', XCOM_BACKEND: `${file}#notABackend` })).message,
    ).toContain('not an XCom backend')
  })

  it('refuses exports that are not backend classes, and names XCOM_BACKEND when a backend fails to build', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xcom-backend-'))
    const file = join(dir, 'throwing.mjs')
    writeFileSync(
      file,
      `export class Throwing {
        constructor() { throw new Error('bucket name missing') }
        async serializeValue() {} async deserializeValue() {} async purge() {} display() { return '' }
      }`,
    )
    const plain = await configError({ XCOM_METADATA_URL: 'memory://', XCOM_BACKEND: 'node:fs#readFile' })
    expect(plain.message).toContain('XCOM_BACKEND=node:fs#readFile is not an XCom backend')
    const throwing = await configError({ XCOM_METADATA_URL: 'memory://', XCOM_BACKEND: `${file}#Throwing` })
    expect(throwing.message).toContain('XCOM_BACKEND=')
    expect(throwing.message).toContain('bucket name missing')
  })

  it('refuses object storage settings without a path instead of ignoring them', async () => {
    for (const variable of [
      'XCOM_OBJECTSTORAGE_THRESHOLD',
      'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD',
      'XCOM_OBJECTSTORAGE_COMPRESSION',
      'XCOM_OBJECTSTORAGE_CHECKSUM',
    ]) {
      const error = await configError({ XCOM_METADATA_URL: 'memory://', [variable]: 'abc' })
      const path = variable.startsWith('AIRFLOW__')
        ? 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH'
        : 'XCOM_OBJECTSTORAGE_PATH'
      expect(error.message).toContain(`${variable} is set but ${path} is not`)
      expect(error.message).toContain(`set ${path} (e.g. ${path}=file:///var/lib/xcom)`)
    }
  })

  it("maps Airflow's backend class paths to the xcom backend doing the same job", async () => {
    const objectStorage = 'airflow.providers.common.io.xcom.backend.XComObjectStorageBackend'
    // Loaded from xcom's own location or, failing that, from the application's (a stand-in here).
    const app = mkdtempSync(join(tmpdir(), 'xcom-app-'))
    const pkg = join(app, 'node_modules', '@xcom', 'objectstore')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: '@xcom/objectstore', type: 'module', main: 'index.js' }),
    )
    writeFileSync(
      join(pkg, 'index.js'),
      `export class ObjectStoreXComBackend {
        static fromEnv(env) { const b = new ObjectStoreXComBackend(); b.path = env.AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH; return b }
        async serializeValue() {} async deserializeValue() {} async purge() {} display() { return 'stored' }
      }`,
    )
    const cwd = vi.spyOn(process, 'cwd').mockReturnValue(app)
    try {
      const xcom = await XCom.fromEnv({
        XCOM_METADATA_URL: 'memory://',
        AIRFLOW__CORE__XCOM_BACKEND: objectStorage,
        AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: 'memory://bucket/xcom',
      })
      expect(xcom.backend.constructor.name).toBe('ObjectStoreXComBackend')
      await xcom.close()
    } finally {
      cwd.mockRestore()
    }
    for (const inline of ['airflow.models.xcom.BaseXCom', 'airflow.sdk.bases.xcom.BaseXCom']) {
      const xcom = await XCom.fromEnv({ XCOM_METADATA_URL: 'memory://', AIRFLOW__CORE__XCOM_BACKEND: inline })
      expect(xcom.backend).toBeInstanceOf(BaseXComBackend)
    }
    expect(AIRFLOW_BACKEND_CLASSES[objectStorage]).toBe(OBJECT_STORAGE_BACKEND)
  })

  it('names the variables in the spelling the user set, as a shell can export them', async () => {
    const airflow = await configError({
      XCOM_METADATA_URL: 'memory://',
      AIRFLOW__CORE__XCOM_BACKEND: 'airflow.providers.common.io.xcom.backend.XComObjectStorageBackend',
    })
    expect(airflow.message).toContain(
      'AIRFLOW__CORE__XCOM_BACKEND chose the object storage backend, which needs AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH',
    )
    const hyphen = await configError({
      XCOM_METADATA_URL: 'memory://',
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: 's3://my-conn@bucket/xcom',
    })
    expect(hyphen.message).toContain(
      'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH names the connection "my-conn", which is not defined',
    )
    expect(hyphen.message).toContain("export AIRFLOW_CONN_MY_CONN='<URI or JSON>' (or XCOM_CONN_MY_CONN)")
    const own = await configError({
      XCOM_METADATA_URL: 'memory://',
      XCOM_OBJECTSTORAGE_PATH: 'gs://my.conn@b/x',
    })
    expect(own.message).toContain("export XCOM_CONN_MY_CONN='<URI or JSON>'")
    for (const error of [airflow, hyphen, own]) expect(error.message).not.toContain('undefined')
  })

  it('explains module#Export for any other Python class path', async () => {
    for (const [variable, spec] of [
      ['AIRFLOW__CORE__XCOM_BACKEND', 'my_company.xcom.S3XComBackend'],
      ['XCOM_BACKEND', 'include.backends.MyBackend'],
      ['AIRFLOW__CORE__XCOM_BACKEND', 'constructor.toString'],
    ] as const) {
      const error = await configError({ XCOM_METADATA_URL: 'memory://', [variable]: spec })
      expect(error.message).toContain(`${variable}=${spec} is a Python class path`)
      expect(error.message).toContain(`module#Export`)
      expect(error.message).toContain(`${variable}=./my-backend.js#MyBackend`)
      expect(error.message).not.toContain('npm install')
    }
  })

  it('names the package to install when a backend package is missing', async () => {
    const error = await configError({
      XCOM_METADATA_URL: 'memory://',
      XCOM_BACKEND: '@xcom/not-installed#Backend',
    })
    expect(error.message).toContain('npm install @xcom/not-installed')
    expect(error.message).toContain('XCOM_BACKEND')
  })

  it('rejects a missing backend file and an unknown metadata scheme', async () => {
    expect(
      (await configError({ XCOM_METADATA_URL: 'memory://', XCOM_BACKEND: './nope/backend.mjs#X' })).message,
    ).toContain('does not exist')
    const error = await configError({ XCOM_METADATA_URL: 'mysql://u:hunter2@h/db' })
    expect(error.message).toContain('XCOM_METADATA_URL')
    expect(error.message).toContain('sqlite://')
    expect(error.message).not.toContain('hunter2')
    expect((await configError({ XCOM_METADATA_URL: 'nonsense' })).message).toContain('no scheme')
  })
})

describe('readXComConfig', () => {
  it('reads xcom and Airflow spellings and chooses the object storage backend when only a path is set', () => {
    const config = readXComConfig({
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: 's3://conn@bucket/xcom',
      XCOM_OBJECTSTORAGE_THRESHOLD: '1024',
      AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION: 'gzip',
    })
    expect(config.backend).toEqual({
      value: '@xcom/objectstore#ObjectStoreXComBackend',
      variable: 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH',
    })
    expect(config.objectStorageThreshold).toEqual({ value: '1024', variable: 'XCOM_OBJECTSTORAGE_THRESHOLD' })
    expect(config.metadataUrl).toEqual({ value: 'sqlite://.xcom/xcom.db', variable: '(default)' })
    expect(config.objectStorageChecksum).toBeUndefined()
    expect(readXComConfig({ XCOM_OBJECTSTORAGE_CHECKSUM: ' sha256 ' }).objectStorageChecksum).toEqual({
      value: 'sha256',
      variable: 'XCOM_OBJECTSTORAGE_CHECKSUM',
    })
    expect(
      readXComConfig({ XCOM_BACKEND: 'mine#B', XCOM_OBJECTSTORAGE_PATH: 'file:///x' }).backend?.value,
    ).toBe('mine#B')
  })

  it('prints the configuration with secrets masked', () => {
    const printable = printableConfig(
      readXComConfig({
        XCOM_METADATA_URL: 'postgres://user:hunter2@db/xcom',
        XCOM_CONN_AWS: 'aws://KEY:SECRET@',
        AIRFLOW_CONN_GCP: '{"conn_type":"google_cloud_platform"}',
      }),
    )
    const text = JSON.stringify(printable)
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('SECRET')
    expect(printable.metadataUrl).toContain('postgres://user:***@db/xcom')
    expect(printable.connections).toBe('AIRFLOW_CONN_GCP=***, XCOM_CONN_AWS=***')
    expect(printable.objectStorageChecksum).toBe('(unset: crc32)')
  })
})

describe('printableConfig masks every secret form', () => {
  it.each([
    {
      env: { XCOM_METADATA_URL: 'postgres://u:a@secret@host/db' },
      secrets: ['a@secret', 'secret'],
      kept: ['postgres://u:***@host/db', 'XCOM_METADATA_URL'],
    },
    {
      env: { XCOM_METADATA_URL: 'postgres://user@host/db?password=hunter2&sslmode=require' },
      secrets: ['hunter2'],
      kept: ['user@host/db', 'sslmode=require'],
    },
    {
      env: { XCOM_METADATA_URL: 'postgres://u:pa/ss@host/db' },
      secrets: ['pa/ss'],
      kept: ['u:***@host/db'],
    },
    {
      env: { XCOM_OBJECTSTORAGE_PATH: 's3://KEY:SECRET@bucket/x' },
      secrets: ['SECRET'],
      kept: ['KEY', 'bucket/x'],
    },
    {
      env: { AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH: 'abfs://acct:ACCOUNTKEY@container/x' },
      secrets: ['ACCOUNTKEY'],
      kept: ['acct', 'container/x', 'AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH'],
    },
    {
      env: {
        XCOM_OBJECTSTORAGE_PATH: 'abfs://container@acct.dfs.core.windows.net/x?sas_token=sv%3D1%26sig%3DSIG1',
      },
      secrets: ['SIG1'],
      kept: ['container@acct.dfs.core.windows.net/x'],
    },
    {
      env: { XCOM_OBJECTSTORAGE_PATH: 's3://bucket/x?aws_secret_access_key=SAK1&region_name=eu-west-1' },
      secrets: ['SAK1'],
      kept: ['s3://bucket/x', 'region_name=eu-west-1'],
    },
    {
      env: {
        XCOM_CONN_AWS: 'aws://KEY:SE/CRET@',
        AIRFLOW_CONN_AZ: JSON.stringify({ conn_type: 'wasb', login: 'acct', password: 'PW1' }),
      },
      secrets: ['SE/CRET', 'CRET', 'PW1'],
      kept: ['XCOM_CONN_AWS=***', 'AIRFLOW_CONN_AZ=***'],
    },
  ])('$env', ({ env, secrets, kept }) => {
    const text = JSON.stringify(printableConfig(readXComConfig(env)))
    for (const secret of secrets) expect(text).not.toContain(secret)
    for (const part of kept) expect(text).toContain(part)
  })
})

describe('configuration errors', () => {
  it('mask credentials in the module a backend setting names', async () => {
    const { importExport, importModule } = await import('../src/adapter.ts')
    const errors = await Promise.all(
      [
        importModule('file://u:SECRET1@localhost/nope/backend.mjs', 'XCOM_BACKEND'),
        importExport('https://u:SECRET2@host/b.mjs?token=SECRET3#B', 'XCOM_BACKEND'),
        importModule('@scope/pkg?password=SECRET4', 'XCOM_BACKEND'),
        importModule('x', 'XCOM_BACKEND', {
          whenMissing: {
            code: 'E_UNKNOWN_SCHEME',
            message: 'no adapter for XCOM_BACKEND=s3://KEY:SECRET5@bucket',
          },
        }),
      ].map((failure) => failure.catch((caught: unknown) => caught)),
    )
    for (const error of errors) {
      expect(XComError.is(error)).toBe(true)
      expect((error as XComError).message).toContain('XCOM_BACKEND')
      expect((error as XComError).message).not.toMatch(/SECRET\d/)
    }
  })
})

describe('importModule', () => {
  it('tells a missing package apart from a missing dependency of an installed one', async () => {
    const { importModule } = await import('../src/adapter.ts')
    const app = mkdtempSync(join(tmpdir(), 'xcom-app-'))
    const pkg = join(app, 'node_modules', 'half-installed')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'half-installed', type: 'module', main: 'index.js' }),
    )
    writeFileSync(join(pkg, 'index.js'), "import 'dependency-that-is-missing'\nexport const x = 1\n")
    const broken = await importModule('half-installed', 'XCOM_BACKEND', { cwd: app }).catch((error) => error)
    expect(XComError.is(broken, 'E_CONFIG')).toBe(true)
    expect(broken.message).toContain('could not load half-installed')
    expect(broken.message).not.toContain('npm install half-installed')
    const missing = await importModule('not-there-at-all', 'XCOM_BACKEND', {
      cwd: app,
      whenMissing: { code: 'E_UNKNOWN_SCHEME', message: 'install it' },
    }).catch((error) => error)
    expect(XComError.is(missing, 'E_UNKNOWN_SCHEME')).toBe(true)
  })
})
