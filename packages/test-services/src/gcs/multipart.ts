import type { ChunkedBytes } from './bytes.ts'
import { GcsError } from './http.ts'

/** How far into the body the metadata part and the media part's headers may reach. */
const HEAD_WINDOW = 2 * 1024 * 1024
/** How far from the end the closing delimiter (plus an epilogue) may be. */
const TAIL_WINDOW = 64 * 1024

/** The two parts of a GCS `multipart/related` upload. */
export interface MultipartUpload {
  /** The first part: the object resource as JSON text. */
  metadataJson: string
  /** The second part's Content-Type, if it had one. */
  mediaType: string | undefined
  /** The second part: the object's bytes (a view of the body). */
  media: ChunkedBytes
}

/**
 * Splits a `multipart/related` body into its metadata part and media part, as GCS expects them: exactly two parts,
 * metadata first. The media part is located by its opening headers and the closing delimiter at the end of the body,
 * so its bytes are never scanned or copied.
 *
 * @throws GcsError 400 when the Content-Type has no boundary or the body is not two well-formed parts
 */
export function parseMultipartRelated(body: ChunkedBytes, contentType: string): MultipartUpload {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  const name = boundary?.[1] ?? boundary?.[2]
  if (!/^multipart\/related/i.test(contentType) || !name) {
    throw invalid('Expected Content-Type multipart/related with a boundary for uploadType=multipart.')
  }
  const head = body.copy(0, Math.min(body.length, HEAD_WINDOW))
  const dashBoundary = `--${name}`
  const first = head.indexOf(dashBoundary)
  if (first < 0) throw invalid('The multipart body does not start with its boundary.')
  const metadata = readPart(head, first + dashBoundary.length)
  const metadataEnd = head.indexOf(`\r\n${dashBoundary}`, metadata.bodyStart)
  if (metadataEnd < 0)
    throw invalid('The multipart metadata part is not terminated (or is larger than 2 MiB).')
  const afterMetadata = metadataEnd + 2 + dashBoundary.length
  if (head.subarray(afterMetadata, afterMetadata + 2).toString() === '--') {
    throw invalid('The multipart body has one part; GCS expects metadata then media.')
  }
  const media = readPart(head, afterMetadata)

  const tailStart = Math.max(0, body.length - TAIL_WINDOW)
  const tail = body.copy(tailStart)
  const close = tail.lastIndexOf(`\r\n${dashBoundary}--`)
  const mediaEnd = tailStart + close
  if (close < 0 || mediaEnd < media.bodyStart) throw invalid('The multipart body has no closing boundary.')
  return {
    metadataJson: head.subarray(metadata.bodyStart, metadataEnd).toString('utf8'),
    mediaType: media.contentType,
    media: body.slice(media.bodyStart, mediaEnd),
  }
}

/** Reads a part's headers, starting right after its `--boundary`. */
function readPart(
  head: Buffer,
  afterBoundary: number,
): { bodyStart: number; contentType: string | undefined } {
  // transport padding (spaces, tabs) may follow the boundary before its CRLF
  const lineEnd = head.indexOf('\r\n', afterBoundary)
  if (lineEnd < 0 || head.subarray(afterBoundary, lineEnd).toString().trim() !== '') {
    throw invalid('A multipart boundary line is malformed (or the part headers are larger than 2 MiB).')
  }
  const headersEnd = head.indexOf('\r\n\r\n', lineEnd)
  if (headersEnd < 0) throw invalid('A multipart part has no end of headers.')
  const headers = head.subarray(lineEnd + 2, headersEnd).toString('latin1')
  const contentType = /^content-type:\s*(.+)$/im.exec(headers)?.[1]?.trim()
  return { bodyStart: headersEnd + 4, contentType }
}

function invalid(message: string): GcsError {
  return new GcsError(400, 'invalid', message)
}
