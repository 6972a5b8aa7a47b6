/**
 * A custom type the {@link SerializerRegistry} can store. Registered with `registry.register(...)`. Its functions
 * must be synchronous: `async` ones are refused at registration, and one returning a Promise fails with `E_CONFIG`.
 *
 * @example
 * ```ts
 * registry.register<Point>({
 *   classname: 'geo.Point',
 *   version: 1,
 *   test: (value): value is Point => value instanceof Point,
 *   serialize: (p) => ({ x: p.x, y: p.y }),
 *   deserialize: (data) => new Point((data as any).x, (data as any).y),
 * })
 * ```
 */
export interface CustomSerializer<T> {
  /** The stable name stored in `__classname__`, e.g. `geo.Point`. Built-in names and the `js.` prefix are reserved. */
  readonly classname: string
  /** The version written in `__version__`: a non-negative integer. Bump it when the data shape changes. */
  readonly version: number
  /**
   * Whether `value` is one this serializer handles. Consulted only for values that are not JSON primitives,
   * arrays or plain objects, in registration order, before the built-in types.
   */
  test(value: unknown): value is T
  /** Turns the value into data the registry can store: JSON values, built-in types or other registered types. */
  serialize(value: T): unknown
  /**
   * Rebuilds the value. `data` is already decoded; `version` is the stored version, never newer than
   * {@link CustomSerializer.version} (newer stored versions fail before this is called).
   */
  deserialize(data: unknown, version: number): T
}

/**
 * A class that serializes itself, registered with `registry.registerClass(Cls)`. Only instances whose prototype is
 * exactly `Cls.prototype` are matched (subclasses need their own registration). `serialize()` and `deserialize()`
 * must be synchronous, as in {@link CustomSerializer}.
 *
 * @example
 * ```ts
 * class Money {
 *   static readonly xcomClassname = 'shop.Money'
 *   static readonly xcomVersion = 1
 *   constructor(readonly cents: bigint, readonly currency: string) {}
 *   serialize() { return { cents: this.cents, currency: this.currency } }
 *   static deserialize(data: { cents: bigint; currency: string }) { return new Money(data.cents, data.currency) }
 * }
 * ```
 */
export interface SerializableClass<T extends { serialize(): unknown } = { serialize(): unknown }> {
  /** The prototype of the instances to match. */
  readonly prototype: T
  /** The stable name stored in `__classname__`. */
  readonly xcomClassname: string
  /** The version written in `__version__`: a non-negative integer. */
  readonly xcomVersion: number
  /** Rebuilds an instance from decoded data and the stored version (never newer than `xcomVersion`). */
  deserialize(data: unknown, version: number): T
}

/** Options of a {@link SerializerRegistry}. */
export interface SerializerOptions {
  /**
   * Which registered class names may be decoded: exact names, globs (`*` matches any run of characters, `?` one
   * character) and regular expressions, which must match the whole class name. Built-in types are always allowed;
   * a class name with no registered serializer is never decoded.
   * @default undefined (every registered class name is allowed)
   */
  allow?: readonly (string | RegExp)[]
  /**
   * Maximum nesting of containers (arrays, objects, Maps, Sets, errors, custom values); `[[1]]` has depth 2.
   * Between 1 and 1000.
   * @default 100
   */
  maxDepth?: number
  /**
   * Maximum size in UTF-8 bytes of the JSON text written by `serialize()` and read by `deserialize()`. Encoding
   * counts the text's size as it goes and stops as soon as it passes the limit, so an oversized value (a sparse
   * `new Array(1e8)`, a huge string repeated) fails fast with `E_TOO_LARGE` instead of exhausting memory.
   * Between 1 and `Number.MAX_SAFE_INTEGER`.
   * @default 536870912 (512 MiB, about the longest string V8 can hold)
   */
  maxSize?: number
}
