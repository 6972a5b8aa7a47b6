/**
 * Secret masking for messages and display. Every function returns its input with secrets replaced by `***` and never
 * throws: input it cannot read is masked more, not less.
 */

const MASK = '***'

/** Deeper nesting (a URL in a parameter of a URL in JSON ...) is masked whole rather than read. */
const MAX_DEPTH = 16

/** Substrings, not whole names: `aws_secret_access_key`, `sslpassword`, `X-Amz-Signature` and the like all match. */
const SECRET_NAME = /pass|pwd|secret|token|key|sas|sig|credential|auth|conn(?:ection)?_?str/i

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

/** The lookbehind starts a scheme only where one can start, so a long word is scanned once, not once per letter. */
const SCHEME_ANYWHERE = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\/\//

/** A quoted `"name": "value"` pair (JSON, a Python dict, or JSON escaped inside a JSON string). */
const QUOTED_PAIR = /(\\?["'])([\w.\- ]{1,200})\1\s*:\s*(\\?["'])((?:\\.|(?!\3)[^\\])*?)\3/g

/**
 * True when a parameter or field named `name` holds a secret: its name contains, in any case and percent-encoded or
 * not, password, passwd, pwd, secret, token, key, sas, sig(nature), credential, auth or connection_string.
 */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || SECRET_NAME.test(decodeLoose(name))
}

/**
 * Masks the secrets of a URL, with or without a scheme: the password in the userinfo, which is everything before the
 * LAST `@` of the authority (as WHATWG URL, pg-connection-string and Python's urlsplit split it) after the first `:`,
 * and the value of every query or fragment parameter whose name {@link isSecretName}. The user name, host, path and
 * other parameters stay. A password holding an unencoded `/`, `?`, `#` or a non-numeric "port" is masked too.
 * @example maskUrl('postgres://u:a@secret@host/db?sslpassword=x') // 'postgres://u:***@host/db?sslpassword=***'
 */
export function maskUrl(url: string): string {
  return guard(() => maskUrlAt(String(url), 0))
}

/**
 * Masks every URL, `name=value` pair and quoted `"name": "value"` pair with a secret in free text, such as an error
 * message from a driver or SDK.
 */
export function maskText(text: string): string {
  return guard(() => maskTextAt(String(text), 0))
}

/**
 * Masks a connection value (`XCOM_CONN_<ID>`, `AIRFLOW_CONN_<ID>`): a URI as {@link maskUrl} does; a JSON object with
 * `password` and every secret-named field, at any depth and inside `extra` given as a JSON string, replaced by `***`
 * and URLs in the other strings masked. JSON that does not parse is masked whole.
 */
export function maskConnectionValue(value: string): string {
  return guard(() => {
    const text = String(value).trim()
    return text.startsWith('{') ? maskJsonText(text, 0) : maskUrlAt(text, 0)
  })
}

/**
 * Masks a connection id taken from a URL's userinfo (`s3://KEY:SECRET@bucket` names the "connection" `KEY:SECRET`):
 * everything after the first `:` (or `%3A`) is a password. Real connection ids have no `:` and stay as they are.
 */
export function maskConnectionId(id: string): string {
  return guard(() => maskUserinfo(String(id)))
}

function guard(mask: () => string): string {
  try {
    return mask()
  } catch {
    return MASK
  }
}

function maskUrlAt(url: string, depth: number): string {
  if (depth > MAX_DEPTH) return MASK
  const start = authorityStart(url)
  const authorityEnd = segmentEnd(url, start)
  let at = url.lastIndexOf('@', authorityEnd - 1)
  if (at < start) at = misplacedAt(url, start)
  const hostStart = at < start ? start : at + 1
  const hostEnd = segmentEnd(url, hostStart)
  const userinfo = at < start ? '' : `${maskUserinfo(url.slice(start, at))}@`
  return `${url.slice(0, start)}${userinfo}${maskPort(url.slice(hostStart, hostEnd))}${maskTail(url.slice(hostEnd), depth)}`
}

/** Where the authority begins: after `scheme://` or `//`; a string without either is read as starting with one. */
function authorityStart(url: string): number {
  const scheme = SCHEME.exec(url)
  if (scheme) return scheme[0].length
  return url.startsWith('//') ? 2 : 0
}

function segmentEnd(url: string, from: number): number {
  const end = url.slice(from).search(/[/?#]/)
  return end === -1 ? url.length : from + end
}

/**
 * The `@` ending a userinfo whose password holds an unencoded `/`, `?` or `#`: parsers end the authority early and
 * fail, but it is still a password. The first `@` followed by a host without `@`, when a `:` precedes it.
 */
function misplacedAt(url: string, start: number): number {
  for (let at = url.indexOf('@', start); at !== -1; at = url.indexOf('@', at + 1)) {
    if (url.slice(at + 1, segmentEnd(url, at + 1)).includes('@')) continue
    const candidate = url.slice(start, at)
    return !candidate.startsWith('/') && /:|%3a/i.test(candidate) ? at : -1
  }
  return -1
}

/** `user:password` -> `user:***`; the separator may be percent-encoded, which parsers keep in the user name. */
function maskUserinfo(userinfo: string): string {
  const separator = /:|%3a/i.exec(userinfo)
  return separator ? `${userinfo.slice(0, separator.index + separator[0].length)}${MASK}` : userinfo
}

/** A non-numeric "port" is a password that lost its `@` (`aws://KEY:SECRET`); `:memory:` is SQLite's, not a port. */
function maskPort(host: string): string {
  if (host === ':memory:') return host
  const colon = host.indexOf(':', host.startsWith('[') ? host.indexOf(']') + 1 : 0)
  if (colon === -1 || /^[0-9]*$/.test(host.slice(colon + 1))) return host
  return `${host.slice(0, colon + 1)}${MASK}`
}

function maskTail(tail: string, depth: number): string {
  const hash = tail.indexOf('#')
  const beforeHash = hash === -1 ? tail : tail.slice(0, hash)
  const question = beforeHash.indexOf('?')
  let masked = question === -1 ? beforeHash : beforeHash.slice(0, question)
  if (question !== -1) masked += `?${maskParams(beforeHash.slice(question + 1), depth)}`
  if (hash !== -1) masked += `#${maskParams(tail.slice(hash + 1), depth)}`
  return masked
}

/** Masks `name=value` pairs separated by `&` or `;` (Azure connection strings use `;`). */
function maskParams(text: string, depth: number): string {
  return text
    .split(/([&;])/)
    .map((part) => {
      const eq = part.indexOf('=')
      if (eq === -1 || eq === part.length - 1) return part
      const name = part.slice(0, eq)
      const value = part.slice(eq + 1)
      if (isSecretName(name)) return `${name}=${MASK}`
      // Airflow reads __extra__ as the JSON extra verbatim; any other value may hold a URL with credentials
      const mask = decodeLoose(name) === '__extra__' ? maskJsonText : maskTextAt
      return `${name}=${maskEncoded(value, (decoded) => mask(decoded, depth + 1))}`
    })
    .join('')
}

/** Masks the decoded form of a query value; re-encodes only when something was masked. */
function maskEncoded(value: string, mask: (decoded: string) => string): string {
  const decoded = decodeLoose(value.replaceAll('+', ' '))
  const masked = mask(decoded)
  return masked === decoded ? value : encodeURIComponent(masked)
}

function maskTextAt(text: string, depth: number): string {
  if (depth > MAX_DEPTH) return MASK
  return text
    .replace(QUOTED_PAIR, (pair, _quote, name: string, valueQuote: string, value: string) => {
      if (value === '') return pair
      // a value may hold escaped JSON of its own ("extra": "{\"password\": ...}"), read on its own
      const masked = isSecretName(name) ? MASK : maskTextAt(value, depth + 1)
      return `${pair.slice(0, pair.length - value.length - valueQuote.length)}${masked}${valueQuote}`
    })
    .replace(/[^\s"'<>`]+/g, (token) => maskToken(token, depth))
}

function maskToken(token: string, depth: number): string {
  const url = token.search(SCHEME_ANYWHERE)
  if (url > 0) {
    const head = token.slice(0, url)
    // `password=postgres://...`: the whole URL is the secret
    if (/[=:]$/.test(head) && isSecretName(head)) return `${head}${MASK}`
    return `${maskParams(head, depth)}${maskUrlAt(token.slice(url), depth)}`
  }
  if (url === 0 || token.includes('@') || token.includes('?')) return maskUrlAt(token, depth)
  return maskParams(token, depth)
}

function maskJsonText(text: string, depth: number): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return MASK
  }
  return JSON.stringify(maskJson(parsed, depth))
}

function maskJson(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) return MASK
  if (typeof value === 'string') {
    // extra (and other fields) may hold a JSON object as a string
    return value.trimStart().startsWith('{') ? maskJsonText(value, depth + 1) : maskTextAt(value, depth + 1)
  }
  if (Array.isArray(value)) return value.map((item) => maskJson(item, depth + 1))
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(
    Object.entries(value).map(([name, field]) => [
      name,
      isSecretName(name) && field !== null && field !== '' ? MASK : maskJson(field, depth + 1),
    ]),
  )
}

/** Percent-decodes what it can; an invalid UTF-8 run is read byte by byte, so the letters of a name still show. */
function decodeLoose(text: string): string {
  if (!text.includes('%')) return text
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return run.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) =>
        String.fromCharCode(Number.parseInt(hex, 16)),
      )
    }
  })
}
