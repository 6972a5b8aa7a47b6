import type { AllowList } from './allow-list.ts'

/** Internal: one registered custom type, from `register()` or `registerClass()`. */
export interface Entry {
  readonly classname: string
  readonly version: number
  /** Absent for classes, which are matched by prototype. */
  readonly test?: (value: unknown) => boolean
  readonly serialize: (value: unknown) => unknown
  readonly deserialize: (data: unknown, version: number) => unknown
}

/** Internal: what the walks read from the registry. */
export interface Registrations {
  readonly maxDepth: number
  readonly maxSize: number
  readonly allow: AllowList
  readonly byName: ReadonlyMap<string, Entry>
  readonly byPrototype: ReadonlyMap<object, Entry>
  readonly tested: readonly Entry[]
}

/** Sets an own data property, also for keys like `__proto__` that plain assignment would treat specially. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  } else {
    target[key] = value
  }
}

/** The message of an unknown thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Whether `for...in` over an object with this prototype would see inherited keys. */
export function hasEnumerableKeys(object: object): boolean {
  for (const _ in object) return true
  return false
}
