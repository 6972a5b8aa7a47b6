import { XComError } from '../errors.ts'

/** A compiled allow list: true when a class name may be decoded. */
export type AllowList = (classname: string) => boolean

/**
 * Compiles exact names, globs (`*`, `?`) and regular expressions into one predicate. Every pattern must match the
 * whole class name (Airflow's regexps matched prefixes only). `undefined` allows everything.
 * @throws XComError `E_CONFIG` for an entry that is neither a non-empty string nor a RegExp.
 */
export function compileAllowList(patterns: readonly (string | RegExp)[] | undefined): AllowList {
  if (patterns === undefined) return () => true
  if (!Array.isArray(patterns)) {
    throw new XComError('E_CONFIG', 'The serializer option `allow` must be an array of strings and RegExps.')
  }
  const exact = new Set<string>()
  const regexps: RegExp[] = []
  for (const pattern of patterns) {
    if (pattern instanceof RegExp) {
      regexps.push(new RegExp(`^(?:${pattern.source})$`, pattern.flags.replace(/[gy]/g, '')))
    } else if (typeof pattern === 'string' && pattern !== '') {
      if (/[*?]/.test(pattern)) regexps.push(globToRegExp(pattern))
      else exact.add(pattern)
    } else {
      throw new XComError(
        'E_CONFIG',
        `The serializer option \`allow\` contains ${String(pattern)}: use class names, globs like "myapp.*" or RegExps.`,
      )
    }
  }
  return (classname) => exact.has(classname) || regexps.some((re) => re.test(classname))
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 's')
}
