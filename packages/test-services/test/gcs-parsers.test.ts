import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ChunkedBytes } from '../src/gcs/bytes.ts'
import { compareNames, type ListRequest, listPage } from '../src/gcs/listing.ts'
import { parseMultipartRelated } from '../src/gcs/multipart.ts'

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
