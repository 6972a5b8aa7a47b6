import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { type Env, SerializerRegistry, XCom, XComError } from '../src/index.ts'
import { Money } from './fixtures/types.ts'

const id = { dagId: 'shop', runId: 'r1', taskId: 'price' }
const types = fileURLToPath(new URL('./fixtures/types.ts', import.meta.url))

async function roundTrip(xcom: XCom): Promise<unknown> {
  try {
    await xcom.push(id, new Money(250))
    return await xcom.pull(id)
  } finally {
    await xcom.close()
  }
}

async function configError(env: Env, options?: Parameters<typeof XCom.fromEnv>[1]): Promise<XComError> {
  const error = await XCom.fromEnv({ XCOM_METADATA_URL: 'memory://', ...env }, options).catch(
    (caught) => caught,
  )
  expect(XComError.is(error, 'E_CONFIG'), String(error)).toBe(true)
  return error
}

describe('XCom.fromEnv registers types on the backend serializer', () => {
  it('from XCOM_SERIALIZERS=module#export, on the inline and the object storage backend', async () => {
    for (const env of [
      { XCOM_SERIALIZERS: `${types}#register` },
      { XCOM_SERIALIZERS: `${types}#Money` },
      { XCOM_SERIALIZERS: ` ${types}#register , ` },
      {
        XCOM_SERIALIZERS: `${types}#register`,
        XCOM_OBJECTSTORAGE_PATH: 'memory://bucket/x',
        XCOM_OBJECTSTORAGE_THRESHOLD: '0',
      },
    ]) {
      const xcom = await XCom.fromEnv({ XCOM_METADATA_URL: 'memory://', ...env })
      expect(await roundTrip(xcom)).toEqual(new Money(250))
    }
    // Without it, the type is refused on push.
    const plain = await XCom.fromEnv({ XCOM_METADATA_URL: 'memory://' })
    await expect(plain.push(id, new Money(1))).rejects.toThrow(/not serializable|E_NOT_SERIALIZABLE|Money/i)
  })

  it('from { register } and { serializer }, on the inline and the object storage backend', async () => {
    for (const env of [
      {},
      { XCOM_OBJECTSTORAGE_PATH: 'memory://bucket/y', XCOM_OBJECTSTORAGE_THRESHOLD: '0' },
    ]) {
      const registered = await XCom.fromEnv(
        { XCOM_METADATA_URL: 'memory://', ...env },
        {
          register: (registry) => registry.registerClass(Money),
        },
      )
      expect(await roundTrip(registered)).toEqual(new Money(250))
      const serializer = new SerializerRegistry({ allow: ['shop.*'] }).registerClass(Money)
      const given = await XCom.fromEnv({ XCOM_METADATA_URL: 'memory://', ...env }, { serializer })
      expect((given.backend as { serializer?: unknown }).serializer).toBe(serializer)
      expect(await roundTrip(given)).toEqual(new Money(250))
    }
  })

  it('says what is wrong with an entry, naming XCOM_SERIALIZERS', async () => {
    const noExport = await configError({ XCOM_SERIALIZERS: types })
    expect(noExport.message).toContain('name the export as module#export')
    const notOne = await configError({ XCOM_SERIALIZERS: `${types}#notARegistration` })
    expect(notOne.message).toContain(`XCOM_SERIALIZERS=${types}#notARegistration is not a registration`)
    const missing = await configError({ XCOM_SERIALIZERS: `${types}#nope` })
    expect(missing.message).toContain('XCOM_SERIALIZERS')
    const twice = await configError({ XCOM_SERIALIZERS: `${types}#register,${types}#Money` })
    expect(twice.message).toContain(`Registering the serializers of XCOM_SERIALIZERS=${types}#Money`)
    const throwing = await configError(
      {},
      {
        register: () => {
          throw new Error('bad registration')
        },
      },
    )
    expect(throwing.message).toContain('XCom.fromEnv(env, { register }): bad registration')
  })

  it('refuses a serializer the backend does not use, and a backend without one', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const file = join(mkdtempSync(join(tmpdir(), 'xcom-backend-')), 'backend.mjs')
    writeFileSync(
      file,
      `export class Bare {
        async serializeValue() {} async deserializeValue() {} async purge() {} display() { return '' }
      }`,
    )
    const bare = await configError({ XCOM_BACKEND: `${file}#Bare`, XCOM_SERIALIZERS: `${types}#register` })
    expect(bare.message).toContain('XCOM_SERIALIZERS needs a backend with a serializer')
    expect(bare.message).toContain('the backend of XCOM_BACKEND has none')
    const ignored = await configError(
      { XCOM_BACKEND: `${file}#Bare` },
      { serializer: new SerializerRegistry() },
    )
    expect(ignored.message).toContain('does not use the serializer given')
  })
})
