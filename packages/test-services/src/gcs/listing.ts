import { GcsError } from './http.ts'

/** What one page of a listing asks for. */
export interface ListRequest {
  prefix: string
  delimiter: string | undefined
  startOffset: string | undefined
  endOffset: string | undefined
  includeTrailingDelimiter: boolean
  maxResults: number
  pageToken: string | undefined
}

/** One page: object names, rolled-up prefixes, and the token of the next page if there is one. */
export interface ListPage {
  names: string[]
  prefixes: string[]
  nextPageToken: string | undefined
}

/** Compares names in UTF-8 byte order (= code point order), the order GCS lists in. */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length - b.length
}

/** Reads the common listing query parameters. @throws GcsError 400 on a malformed maxResults */
export function parseListRequest(query: URLSearchParams): ListRequest {
  const max = query.get('maxResults')
  if (max !== null && !/^\d+$/.test(max)) throw new GcsError(400, 'invalid', `Invalid maxResults: ${max}`)
  const maxResults = max === null || Number(max) === 0 ? 1000 : Math.min(Number(max), 1000)
  return {
    prefix: query.get('prefix') ?? '',
    delimiter: query.get('delimiter') || undefined,
    startOffset: query.get('startOffset') || undefined,
    endOffset: query.get('endOffset') || undefined,
    includeTrailingDelimiter: query.get('includeTrailingDelimiter') === 'true',
    maxResults,
    pageToken: query.get('pageToken') || undefined,
  }
}

/** The opaque page token: the last entry returned, and whether it was a rolled-up prefix. */
interface Cursor {
  after: string
  prefix: boolean
}

function encodeToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

function decodeToken(token: string): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor
    if (typeof cursor.after === 'string' && typeof cursor.prefix === 'boolean') return cursor
  } catch {}
  throw new GcsError(400, 'invalid', 'Invalid pageToken (it must be a nextPageToken from an earlier page).')
}

/**
 * Computes one page of a listing over `allNames` (any order). `maxResults` counts names and prefixes together.
 * With a delimiter, every name that contains it after `prefix` rolls up into one prefix, returned once across pages.
 *
 * @throws GcsError 400 on a malformed page token
 */
export function listPage(allNames: Iterable<string>, request: ListRequest): ListPage {
  const { prefix, delimiter, startOffset, endOffset } = request
  const cursor = request.pageToken === undefined ? undefined : decodeToken(request.pageToken)
  const names = [...allNames]
    .filter(
      (name) =>
        name.startsWith(prefix) &&
        (startOffset === undefined || compareNames(name, startOffset) >= 0) &&
        (endOffset === undefined || compareNames(name, endOffset) < 0) &&
        (cursor === undefined ||
          (compareNames(name, cursor.after) > 0 && !(cursor.prefix && name.startsWith(cursor.after)))),
    )
    .sort(compareNames)

  const page: ListPage = { names: [], prefixes: [], nextPageToken: undefined }
  let count = 0
  let last: Cursor | undefined
  for (const name of names) {
    const cut = delimiter === undefined ? -1 : name.indexOf(delimiter, prefix.length)
    const rolled = cut < 0 ? undefined : name.slice(0, cut + delimiter!.length)
    if (rolled !== undefined && last?.prefix && last.after === rolled) continue
    if (count === request.maxResults) {
      page.nextPageToken = last === undefined ? undefined : encodeToken(last)
      break
    }
    count++
    if (rolled === undefined) {
      page.names.push(name)
      last = { after: name, prefix: false }
    } else {
      page.prefixes.push(rolled)
      if (request.includeTrailingDelimiter && name === rolled) page.names.push(name)
      last = { after: rolled, prefix: true }
    }
  }
  return page
}
