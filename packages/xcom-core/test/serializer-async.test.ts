import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type CustomSerializer, SerializerRegistry } from '../src/serializer/index.ts'
import { thrown } from './support.ts'

class Box {
  readonly content: unknown
  constructor(content: unknown) {
    this.content = content
  }
}

/** A serializer of Box whose hooks can be swapped for ones that misbehave. */
function boxSerializer(overrides: Partial<CustomSerializer<Box>> = {}): CustomSerializer<Box> {
  return {
    classname: 'test.Box',
    version: 1,
    test: (value): value is Box => value instanceof Box,
    serialize: (box) => box.content,
    deserialize: (data) => new Box(data),
    ...overrides,
  }
}

const boxText = new SerializerRegistry().register(boxSerializer()).serialize({ box: new Box(1) })

/** Lets pending promise jobs and the unhandled-rejection check run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

describe('serialization hooks must be synchronous', () => {
  const unhandled: unknown[] = []
  const record = (reason: unknown) => unhandled.push(reason)
  beforeEach(() => {
    unhandled.length = 0
    process.on('unhandledRejection', record)
  })
  afterEach(() => {
    process.off('unhandledRejection', record)
  })

  it('refuses async hooks at registration with E_CONFIG', () => {
    for (const hook of ['test', 'serialize', 'deserialize'] as const) {
      const error = thrown('E_CONFIG', () =>
        new SerializerRegistry().register(boxSerializer({ [hook]: async () => true })),
      )
      expect(error.message).toContain(`its ${hook}() is an async function`)
    }
    const bound = async function deserialize() {}.bind(null)
    thrown('E_CONFIG', () =>
      new SerializerRegistry().register(boxSerializer({ deserialize: bound as never })),
    )
  })

  it('refuses classes with an async static deserialize or instance serialize', () => {
    class AsyncRead {
      static readonly xcomClassname = 'test.AsyncRead'
      static readonly xcomVersion = 1
      serialize() {
        return 1
      }
      static async deserialize() {
        return new AsyncRead()
      }
    }
    class AsyncWrite {
      static readonly xcomClassname = 'test.AsyncWrite'
      static readonly xcomVersion = 1
      async serialize() {
        return 1
      }
      static deserialize() {
        return new AsyncWrite()
      }
    }
    const registry = new SerializerRegistry()
    expect(thrown('E_CONFIG', () => registry.registerClass(AsyncRead as never)).message).toContain(
      'Make deserialize() return its result directly',
    )
    thrown('E_CONFIG', () => registry.registerClass(AsyncWrite))
  })

  it('refuses a deserialize that returns a rejected Promise, which then cannot end the process', async () => {
    const registry = new SerializerRegistry().register(
      boxSerializer({ deserialize: () => Promise.reject(new Error('late')) as never }),
    )
    const error = thrown('E_CONFIG', () => registry.deserialize(boxText))
    expect(error.path).toBe('value.box')
    expect(error.message).toContain('the deserialize() of class "test.Box" returned a Promise')
    await settle()
    expect(unhandled).toEqual([])
  })

  it('refuses a static deserialize of a class that returns a Promise', async () => {
    class Later {
      static readonly xcomClassname = 'test.Later'
      static readonly xcomVersion = 1
      serialize() {
        return 1
      }
      static deserialize() {
        return Promise.reject(new Error('late')) as unknown as Later
      }
    }
    const registry = new SerializerRegistry().registerClass(Later)
    thrown('E_CONFIG', () => registry.deserialize(registry.serialize([new Later()])))
    await settle()
    expect(unhandled).toEqual([])
  })

  it('calls nothing on a returned thenable', () => {
    let called = 0
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: the thenable under test
      then: () => {
        called++
      },
    }
    const registry = new SerializerRegistry().register(
      boxSerializer({ deserialize: () => thenable as never }),
    )
    thrown('E_CONFIG', () => registry.deserialize(boxText))
    expect(called).toBe(0)
  })

  it('refuses serialize and test hooks that return Promises, on push', async () => {
    const rejecting = new SerializerRegistry().register(
      boxSerializer({ serialize: () => Promise.reject(new Error('late')) }),
    )
    const error = thrown('E_CONFIG', () => rejecting.serialize({ box: new Box(1) }))
    expect(error.path).toBe('value.box')
    expect(error.message).toContain('the serialize() of "test.Box" returned a Promise')
    const testing = new SerializerRegistry().register(
      boxSerializer({ test: (() => Promise.reject(new Error('late'))) as never }),
    )
    thrown('E_CONFIG', () => testing.serialize(new Box(1)))
    await settle()
    expect(unhandled).toEqual([])
  })

  it('still refuses a Promise pushed as a value as not serializable, leaving it to its owner', () => {
    const promise = Promise.resolve(1)
    expect(
      thrown('E_NOT_SERIALIZABLE', () => new SerializerRegistry().serialize({ promise })).message,
    ).toContain('Await it')
  })
})
