import { Failure } from './failure.ts'

/** What to do about a value over `maxSize`. */
export const TOO_LARGE_HINT =
  'Raise the maxSize option, or push large binary data as raw bytes to object storage.'

/**
 * The fewest UTF-8 bytes a JSON leaf (a string, boolean, null, or finite number other than -0) takes in the text,
 * or -1 for any other value. A string takes at least a byte per UTF-16 unit, plus its quotes.
 */
export function leafBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2
    case 'boolean':
      return value ? 4 : 5
    case 'number':
      return isJsonNumber(value) ? numberBytes(value) : -1
    default:
      return value === null ? 4 : -1
  }
}

/** Exact powers of ten: `POWERS[n]` is the smallest integer with `n + 1` digits. */
const POWERS = Array.from({ length: 22 }, (_, exponent) => Number(`1e${exponent}`))

/**
 * The fewest bytes a JSON number takes: exact for integers, a lower bound for fractions (formatting every number to
 * measure it would make encoding several times slower).
 */
export function numberBytes(value: number): number {
  const size = value < 0 ? -value : value
  const sign = value < 0 ? 1 : 0
  // JSON.stringify writes these as `1e+21` and up.
  if (size >= 1e21) return sign + 5
  // A fraction has a `.` and a digit after it, or an exponent (`1e-7`), which is as long.
  const fraction = size === Math.floor(size) ? 0 : 2
  let digits = 1
  while (digits < 21 && size >= POWERS[digits]!) digits++
  return sign + fraction + digits
}

/** A finite number other than -0: JSON holds it as it is. */
export function isJsonNumber(value: number): boolean {
  return value - value === 0 && (value !== 0 || 1 / value > 0)
}

/** The failure of an encode whose text passed `maxSize` while it was being counted. */
export function tooLarge(maxSize: number): Failure {
  return new Failure(
    'E_TOO_LARGE',
    `the JSON text would be more than maxSize (${maxSize}) bytes by this point. ${TOO_LARGE_HINT}`,
  )
}
