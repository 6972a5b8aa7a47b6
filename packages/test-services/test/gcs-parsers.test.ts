import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChunkedBytes } from '../src/gcs/bytes.ts'
import { compareNames, type ListRequest, listPage } from '../src/gcs/listing.ts'
import { parseMultipartRelated } from '../src/gcs/multipart.ts'
import { parseContentRange, parseRange } from '../src/gcs/params.ts'
import { checkPreconditions, parsePreconditions } from '../src/gcs/preconditions.ts'

const request = (overrides: Partial<ListRequest> = {}): ListRequest => ({
  prefix: '',
  delimiter: undefined,
  startOffset: undefined,
  endOffset: undefined,
  includeTrailingDelimiter: false,
  maxResults: 1000,
  pageToken: undefined,
  ...overrides,
})

describe('listPage', () => {
  it('returns the same entries whatever the page size', () => {
    const name = fc.array(fc.constantFrom('a', 'b', '/', 'é', '\u{1F600}'), { minLength: 1, maxLength: 5 })
    fc.assert(
      fc.property(
        fc.uniqueArray(name.map((chars) => chars.join(''))),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        (names, maxResults, withDelimiter) => {
          const delimiter = withDelimiter ? '/' : undefined
          const all = listPage(names, request({ delimiter }))
          const paged = { names: [] as string[], prefixes: [] as string[] }
          let pageToken: string | undefined
          do {
            const page = listPage(names, request({ delimiter, maxResults, pageToken }))
            expect(page.names.length + page.prefixes.length).toBeLessThanOrEqual(maxResults)
            paged.names.push(...page.names)
            paged.prefixes.push(...page.prefixes)
            pageToken = page.nextPageToken
          } while (pageToken)
          expect(paged).toEqual({ names: all.names, prefixes: all.prefixes })
          expect(all.nextPageToken).toBeUndefined()
        },
      ),
    )
  })

  it('orders by code point (UTF-8 bytes), not UTF-16 units', () => {
    expect(['\u{1F600}', '\uFFFD', 'a'].sort(compareNames)).toEqual(['a', '\uFFFD', '\u{1F600}'])
  })
})

describe('parseMultipartRelated', () => {
  const parse = (text: string, contentType = 'multipart/related; boundary="bb"') =>
    parseMultipartRelated(new ChunkedBytes([Buffer.from(text)]), contentType)

  it('accepts parts without headers, transport padding and an epilogue', () => {
    const parsed = parse('preamble\r\n--bb  \r\n\r\n{"a":1}\r\n--bb\r\n\r\nmedia\r\n--bb--\r\nepilogue')
    expect(parsed.metadataJson).toBe('{"a":1}')
    expect(parsed.mediaType).toBeUndefined()
    expect(parsed.media.copy().toString()).toBe('media')
  })

  it('keeps media split across chunks as views', () => {
    const body = new ChunkedBytes([
      Buffer.from('--bb\r\nContent-Type: application/json\r\n\r\n{}\r\n--bb\r\nContent-Type: x/y\r\n\r\nab'),
      Buffer.from('cd'),
      Buffer.from('ef\r\n--bb--'),
    ])
    const parsed = parseMultipartRelated(body, 'multipart/related; boundary=bb')
    expect([parsed.mediaType, parsed.media.copy().toString(), parsed.media.chunks.length]).toEqual([
      'x/y',
      'abcdef',
      3,
    ])
  })

  it('refuses a single part, a missing boundary and a non-multipart type', () => {
    expect(() => parse('--bb\r\n\r\n{}\r\n--bb--')).toThrow(/one part/)
    expect(() => parse('no boundary here')).toThrow(/boundary/)
    expect(() => parse('--bb\r\n\r\n{}\r\n--bb\r\n\r\nx\r\n--bb--', 'application/json')).toThrow(/multipart/)
  })
})

describe('parseRange', () => {
  it('reads the single-range forms as [start, endExclusive], clamped to the size', () => {
    expect(parseRange('bytes=2-5', 10)).toEqual([2, 6])
    expect(parseRange('bytes=7-', 10)).toEqual([7, 10])
    expect(parseRange('bytes=-4', 10)).toEqual([6, 10])
    expect(parseRange('bytes=-40', 10)).toEqual([0, 10])
    expect(parseRange('bytes=8-99', 10)).toEqual([8, 10])
  })

  it('serves the whole object for no header or a form it ignores, and refuses ranges past the end', () => {
    for (const header of [undefined, 'bytes=0-1,4-5', 'bytes=5-2', 'bytes=-', 'items=0-1'])
      expect(parseRange(header, 10)).toBeUndefined()
    for (const [header, size] of [
      ['bytes=10-', 10],
      ['bytes=-0', 10],
      ['bytes=-3', 0],
    ] as const)
      expect(parseRange(header, size)).toBe('unsatisfiable')
  })
})

describe('parseContentRange', () => {
  it('reads every resumable form; no header is the whole object in one request', () => {
    expect(parseContentRange(undefined)).toEqual({ start: 0 })
    expect(parseContentRange('bytes 0-9/20')).toEqual({ start: 0, end: 9, total: 20 })
    expect(parseContentRange('bytes 10-19/*')).toEqual({ start: 10, end: 19 })
    expect(parseContentRange('bytes 5-*/*')).toEqual({ start: 5 })
    expect(parseContentRange('bytes 5-*/8')).toEqual({ start: 5, total: 8 })
    expect(parseContentRange('bytes */*')).toEqual({})
    expect(parseContentRange('bytes */12')).toEqual({ total: 12 })
  })

  it('refuses other forms and an end before the start', () => {
    for (const header of ['bytes 9-0/*', 'bytes=0-1/*', '0-1/2', 'bytes 0-1'])
      expect(() => parseContentRange(header)).toThrow(/Invalid Content-Range/)
  })
})

describe('preconditions', () => {
  const live = { generation: '7', metageneration: 2 }
  const check =
    (query: string, object: typeof live | undefined, read = false) =>
    () =>
      checkPreconditions(parsePreconditions(new URLSearchParams(query)), object, read)

  it('treats a missing object as generation 0, so ifGenerationMatch=0 means create-only', () => {
    expect(check('ifGenerationMatch=0', undefined)).not.toThrow()
    expect(check('ifGenerationMatch=0', live)).toThrow(expect.objectContaining({ status: 412 }))
    expect(check('ifMetagenerationMatch=1', undefined)).toThrow(expect.objectContaining({ status: 412 }))
  })

  it('answers a failed NotMatch with 304 on reads and 412 on writes', () => {
    expect(check('ifGenerationNotMatch=7', live, true)).toThrow(expect.objectContaining({ status: 304 }))
    expect(check('ifMetagenerationNotMatch=2', live)).toThrow(expect.objectContaining({ status: 412 }))
    expect(check('ifGenerationMatch=7&ifMetagenerationMatch=2&ifGenerationNotMatch=6', live)).not.toThrow()
  })

  it('refuses a value that is not a non-negative integer', () => {
    expect(() => parsePreconditions(new URLSearchParams('ifGenerationMatch=-1'))).toThrow(
      expect.objectContaining({ status: 400 }),
    )
  })
})
