import { Failure } from './failure.ts'

/**
 * The most one `serialize` or `deserialize` call spends on compiling regular expressions, in units of about one
 * character of plain pattern. V8 compiles a pattern far slower per character than it parses JSON, and some constructs
 * (Unicode property escapes, case-insensitive Unicode classes) cost it hundreds of times more, so without a budget a
 * small stored value could take minutes to read.
 */
export const REGEXP_BUDGET = 16_384

// Measured against V8: each weight keeps the worst case of its construct near one plain character's cost per unit.
const PROPERTY = 1024
const STRING_PROPERTY = 12_288
const FOLDED_CLASS = 512
const FOLDED_ESCAPE = 64
/** The Unicode properties of strings (only with the `v` flag): V8 expands each into thousands of sequences. */
const STRING_PROPERTIES = ['RGI_Emoji', 'Basic_Emoji', 'Emoji_Keycap_Sequence']
const BACKSLASH = 0x5c
const BRACKET = 0x5b

/**
 * What compiling a pattern costs, in {@link REGEXP_BUDGET} units: its length, plus a weight for each property escape
 * (`\p{…}`, `\P{…}`) under `u` or `v`, and for each class and class escape (`\d \s \w \b` and negations) under `i`
 * with `u` or `v`. One linear pass; it over-counts rather than parse (a `[` inside a class counts too).
 */
export function regexpCost(source: string, flags: string): number {
  const unicode = flags.includes('u') || flags.includes('v')
  const folded = unicode && flags.includes('i')
  let cost = source.length
  for (let index = 0; index < source.length; index++) {
    const code = source.charCodeAt(index)
    if (code === BACKSLASH) {
      const next = source[++index]
      if (unicode && (next === 'p' || next === 'P')) {
        cost += PROPERTY
        if (STRING_PROPERTIES.some((name) => source.startsWith(name, index + 2))) cost += STRING_PROPERTY
      } else if (folded && next !== undefined && 'dDsSwWbB'.includes(next)) {
        cost += FOLDED_ESCAPE
      }
    } else if (folded && code === BRACKET) {
      cost += FOLDED_CLASS
    }
  }
  return cost
}

/**
 * The regular expressions one encode or decode call has met. Each distinct pattern is charged once, since repeats are
 * compiled by cloning the first: a value may hold the same pattern any number of times.
 */
export class RegExpBudget {
  #spent = 0
  readonly #compiled = new Map<string, RegExp | undefined>()

  /** Charges a pattern written by the encoder, so nothing is stored that could not be read back. */
  charge(source: string, flags: string): void {
    const key = `${flags}/${source}`
    if (this.#compiled.has(key)) return
    this.#spend(source, flags)
    this.#compiled.set(key, undefined)
  }

  /**
   * Compiles a pattern read by the decoder; repeats are cloned from the first compile.
   * @throws SyntaxError for an invalid pattern, {@link Failure} `E_TOO_LARGE` past the budget.
   */
  compile(source: string, flags: string): RegExp {
    const key = `${flags}/${source}`
    const earlier = this.#compiled.get(key)
    if (earlier !== undefined) return new RegExp(earlier)
    this.#spend(source, flags)
    const regexp = new RegExp(source, flags)
    this.#compiled.set(key, regexp)
    return regexp
  }

  #spend(source: string, flags: string): void {
    this.#spent += regexpCost(source, flags)
    if (this.#spent > REGEXP_BUDGET) {
      throw new Failure(
        'E_TOO_LARGE',
        `its regular expressions would cost more to compile than one value may (${REGEXP_BUDGET} units: a unit per pattern character, ${PROPERTY} per \\p{…} property escape, ${FOLDED_CLASS} per class under the i flag with u or v). Store long or complex patterns as source and flags strings, and compile them after reading.`,
      )
    }
  }
}
