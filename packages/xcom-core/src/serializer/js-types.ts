/** A typed array class, as the serializer builds one from bytes. */
export interface TypedArrayClass {
  new (buffer: ArrayBuffer): ArrayBufferView
  readonly BYTES_PER_ELEMENT: number
}

/** Every typed array class of this runtime, by name (`js.<name>` in envelopes). */
export const TYPED_ARRAYS: ReadonlyMap<string, TypedArrayClass> = new Map(
  [
    ['Int8Array', Int8Array],
    ['Uint8Array', Uint8Array],
    ['Uint8ClampedArray', Uint8ClampedArray],
    ['Int16Array', Int16Array],
    ['Uint16Array', Uint16Array],
    ['Int32Array', Int32Array],
    ['Uint32Array', Uint32Array],
    ['Float32Array', Float32Array],
    ['Float64Array', Float64Array],
    ['BigInt64Array', BigInt64Array],
    ['BigUint64Array', BigUint64Array],
    ['Float16Array', (globalThis as Record<string, any>).Float16Array],
  ].filter((entry): entry is [string, any] => typeof entry[1] === 'function'),
)

/** The built-in error classes a `js.Error` is rebuilt as, by name; any other name becomes an `Error`. */
export const ERRORS: ReadonlyMap<string, ErrorConstructor> = new Map([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
])
