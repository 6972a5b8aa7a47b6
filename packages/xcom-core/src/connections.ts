import type { Connection, ConnectionResolver } from './contracts.ts'
import { XComError } from './errors.ts'
import { maskConnectionId, maskText } from './mask.ts'

/** Environment variable prefixes searched for a connection id, in order. */
export const CONNECTION_ENV_PREFIXES = ['XCOM_CONN_', 'AIRFLOW_CONN_'] as const

const JSON_FIELDS = new Set([
  'conn_type',
  'description',
  'host',
  'login',
  'password',
  'schema',
  'port',
  'extra',
])

/**
 * The variable names that may define connection `id`, in lookup order: Airflow's (id uppercased, `-` and `.` kept)
 * under each prefix, then the form a shell can export (`my-conn` -> `XCOM_CONN_MY_CONN`), since no shell exports a
 * name with `-` or `.`.
 */
export function connectionVariableNames(id: string): string[] {
  const upper = String(id).toUpperCase()
  const names = CONNECTION_ENV_PREFIXES.map((prefix) => `${prefix}${upper}`)
  const shell = shellConnectionName(id)
  return shell === upper ? names : [...names, ...CONNECTION_ENV_PREFIXES.map((prefix) => `${prefix}${shell}`)]
}

/** `id` as a shell can export it after a prefix: uppercased, every other character than A-Z, 0-9 and `_` as `_`. */
function shellConnectionName(id: string): string {
  return String(id)
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_')
}

/**
 * `E_CONFIG` for a connection `source` names that no variable defines, with the `export` line to add, in the
 * spelling of `source` (`AIRFLOW_CONN_` first for an `AIRFLOW__` setting).
 */
export function missingConnection(id: string, source: string): XComError {
  const shown = maskConnectionId(id)
  const name = shellConnectionName(shown)
  const prefixes = source.startsWith('AIRFLOW')
    ? [...CONNECTION_ENV_PREFIXES].reverse()
    : [...CONNECTION_ENV_PREFIXES]
  const [first, second] = prefixes.map((prefix) => `${prefix}${name}`)
  return new XComError(
    'E_CONFIG',
    maskText(
      `${source} names the connection "${shown}", which is not defined: export ${first}='<URI or JSON>' (or ${second}), e.g. ${first}='aws://<login>:<password>@/?region_name=eu-west-1'.`,
    ),
  )
}

/**
 * Resolves connections from `XCOM_CONN_<ID>` then `AIRFLOW_CONN_<ID>` (id uppercased, `-` and `.` kept), then the
 * shell's form of each (`-` and `.` as `_`), each a URI or a JSON object, parsed with Airflow's own rules.
 */
export class EnvConnectionResolver implements ConnectionResolver {
  readonly #env: Record<string, string | undefined>

  /** @param env the variables to read. @default process.env */
  constructor(env: Record<string, string | undefined> = process.env) {
    this.#env = env
  }

  /** The variable that defines `id`, if any. */
  variableFor(id: string): string | undefined {
    return connectionVariableNames(id).find(
      (name) => this.#env[name] !== undefined && this.#env[name]?.trim() !== '',
    )
  }

  /** @throws XComError `E_CONFIG` when the variable holds a malformed connection. */
  async get(id: string): Promise<Connection | undefined> {
    const variable = this.variableFor(id)
    if (variable === undefined) return undefined
    // an id read from a URL's userinfo (s3://KEY:SECRET@bucket) puts the secret in the variable name
    return parseConnection(id, this.#env[variable] as string, maskConnectionId(variable))
  }
}

/**
 * Parses a connection value (a URI or a JSON object) with Airflow's rules.
 * @param source what to name in errors, e.g. the environment variable.
 * @throws XComError `E_CONFIG` naming `source` (never the secret value) and what a valid value looks like.
 */
export function parseConnection(
  id: string,
  value: string,
  source = `connection ${maskConnectionId(id)}`,
): Connection {
  const text = value.trim()
  return text.startsWith('{') ? parseConnectionJson(id, text, source) : parseConnectionUri(id, text, source)
}

function configError(source: string, why: string): never {
  throw new XComError(
    'E_CONFIG',
    `${maskText(source)} is not a valid connection: ${why}. Use a URI like "aws://<login>:<password>@/?region_name=eu-west-1" (percent-encode special characters) or JSON like {"conn_type":"aws","login":"...","password":"...","extra":{...}}.`,
  )
}

/** Airflow's conn_type normalization: lowercase, `postgresql` -> `postgres`, `-` -> `_`. */
export function normalizeConnType(scheme: string): string {
  const lower = scheme.toLowerCase()
  return (lower === 'postgresql' ? 'postgres' : lower).replaceAll('-', '_')
}

function parseConnectionJson(id: string, text: string, source: string): Connection {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return configError(source, 'it starts with "{" but is not valid JSON')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return configError(source, 'JSON must be an object')
  const fields = json as Record<string, unknown>
  const unknown = Object.keys(fields).filter((key) => !JSON_FIELDS.has(key))
  if (unknown.length > 0) {
    return configError(
      source,
      `unknown JSON field(s) ${unknown.join(', ')}; allowed: ${[...JSON_FIELDS].join(', ')}`,
    )
  }
  const optionalString = (name: string): string | undefined => {
    const field = fields[name]
    if (field === undefined || field === null) return undefined
    if (typeof field !== 'string') return configError(source, `"${name}" must be a string`)
    return field
  }
  let port: number | undefined
  if (fields.port !== undefined && fields.port !== null) {
    port = Number(fields.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      return configError(source, '"port" must be an integer 0..65535')
  }
  return {
    id,
    connType: normalizeConnType(optionalString('conn_type') ?? ''),
    host: optionalString('host'),
    login: optionalString('login'),
    password: optionalString('password'),
    schema: optionalString('schema'),
    description: optionalString('description'),
    port,
    extra: parseExtra(fields.extra, source),
  }
}

function parseExtra(extra: unknown, source: string): Record<string, unknown> {
  if (extra === undefined || extra === null || extra === '') return {}
  let value = extra
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value)
    } catch {
      return configError(source, '"extra" must be a JSON object or a string holding one')
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return configError(source, '"extra" must be a JSON object')
  }
  return value as Record<string, unknown>
}

/** Python's `urllib.parse.unquote`: percent-decodes UTF-8 and leaves `+` alone; invalid escapes stay as they are. */
export function pyUnquote(text: string): string {
  if (!text.includes('%')) return text
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run)
    } catch {
      return Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8')
    }
  })
}

/** Python's `parse_qsl(query, keep_blank_values=True)`: `&`-separated, `+` is a space, percent-decoded. */
export function pyParseQuery(query: string): [string, string][] {
  const pairs: [string, string][] = []
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    const [name, value] = eq === -1 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)]
    pairs.push([pyUnquote(name.replaceAll('+', ' ')), pyUnquote(value.replaceAll('+', ' '))])
  }
  return pairs
}

/** The parts of a URL as Python's `urlsplit` sees them (no WHATWG normalization). */
export interface SplitUrl {
  scheme: string
  netloc: string
  path: string
  query: string
  fragment: string
  /** Raw userinfo before the last `@` of netloc, or undefined without `@`. */
  userinfo: string | undefined
  username: string | undefined
  password: string | undefined
  /** Lowercased host without brackets; empty when absent. */
  hostname: string
  /** The raw port text after the host, or undefined. */
  portText: string | undefined
}

/** Python's `urllib.parse.urlsplit`, enough for connection URIs and object storage paths. */
export function pySplitUrl(url: string): SplitUrl {
  let rest = url
  let scheme = ''
  const colon = rest.indexOf(':')
  if (colon > 0 && /^[A-Za-z][A-Za-z0-9+.-]*$/.test(rest.slice(0, colon))) {
    scheme = rest.slice(0, colon).toLowerCase()
    rest = rest.slice(colon + 1)
  }
  let netloc = ''
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/)
    netloc = end === -1 ? rest.slice(2) : rest.slice(2, end + 2)
    rest = end === -1 ? '' : rest.slice(end + 2)
  }
  let fragment = ''
  const hash = rest.indexOf('#')
  if (hash !== -1) {
    fragment = rest.slice(hash + 1)
    rest = rest.slice(0, hash)
  }
  let query = ''
  const question = rest.indexOf('?')
  if (question !== -1) {
    query = rest.slice(question + 1)
    rest = rest.slice(0, question)
  }
  const at = netloc.lastIndexOf('@')
  const userinfo = at === -1 ? undefined : netloc.slice(0, at)
  const hostinfo = at === -1 ? netloc : netloc.slice(at + 1)
  let username: string | undefined
  let password: string | undefined
  if (userinfo !== undefined) {
    const sep = userinfo.indexOf(':')
    username = sep === -1 ? userinfo : userinfo.slice(0, sep)
    password = sep === -1 ? undefined : userinfo.slice(sep + 1)
  }
  let hostname = hostinfo
  let portText: string | undefined
  const bracket = hostinfo.startsWith('[') ? hostinfo.indexOf(']') : -1
  if (bracket !== -1) {
    hostname = hostinfo.slice(1, bracket)
    const after = hostinfo.slice(bracket + 1)
    if (after.startsWith(':')) portText = after.slice(1)
  } else {
    const sep = hostinfo.lastIndexOf(':')
    if (sep !== -1) {
      hostname = hostinfo.slice(0, sep)
      portText = hostinfo.slice(sep + 1)
    }
  }
  return {
    scheme,
    netloc,
    path: rest,
    query,
    fragment,
    userinfo,
    username,
    password,
    hostname: hostname.toLowerCase(),
    portText,
  }
}

function parseConnectionUri(id: string, uri: string, source: string): Connection {
  const schemes = uri.split('://').length - 1
  if (schemes === 0) return configError(source, 'a connection URI needs a scheme such as "aws://"')
  if (schemes > 2) return configError(source, 'it holds more than two "://"')
  const hostWithProtocol = schemes === 2
  const connType = uri.slice(0, uri.indexOf('://'))
  const rest = uri.replace(`${connType}://`, hostWithProtocol ? '' : '//')
  if (hostWithProtocol) {
    const [head] = rest.split('://', 1)
    if (head?.includes('@') || head?.includes(':')) {
      return configError(
        source,
        'with a protocol in the host, credentials must come after it (x://https://user:pass@host)',
      )
    }
  }
  const parts = pySplitUrl(rest)
  let port: number | undefined
  if (parts.portText !== undefined && parts.portText !== '') {
    port = /^[0-9]+$/.test(parts.portText) ? Number(parts.portText) : Number.NaN
    if (!Number.isInteger(port) || port > 65535) {
      return configError(
        source,
        'the port is not an integer 0..65535 (a secret with "/", "@" or ":" must be percent-encoded)',
      )
    }
  }
  const hostname = pyUnquote(parts.hostname)
  const protocol = hostWithProtocol ? parts.scheme : undefined
  let extra: Record<string, unknown> = {}
  if (parts.query !== '') {
    const query = Object.fromEntries(pyParseQuery(parts.query))
    extra = '__extra__' in query ? parseExtra(query.__extra__, source) : query
  }
  const schema = parts.path.slice(1)
  return {
    id,
    connType: normalizeConnType(connType),
    host: hostname === '' ? undefined : protocol ? `${protocol}://${hostname}` : hostname,
    port,
    login: parts.username ? pyUnquote(parts.username) : parts.username,
    password: parts.password ? pyUnquote(parts.password) : parts.password,
    schema: schema === '' ? undefined : pyUnquote(schema),
    extra,
  }
}
