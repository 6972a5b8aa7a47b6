import { Readable } from 'node:stream'
import type { File } from '@google-cloud/storage'
import type { Bytes, GetOptions, ObjectBody, ObjectInfo } from '@xcom/core'
import { checkRange, concatBytes, plainBytes, toReadableStream } from '@xcom/core/adapter'
import { toXComError } from './errors.ts'

/** Which bytes of an object a read selects, in the SDK's terms (end inclusive); no `start` is the whole object. */
export interface Span {
  start?: number
  end?: number
  /** The range starts at or past the end: nothing to download. */
  empty: boolean
}

/**
 * Which bytes of an object of `size` bytes a range selects.
 * @throws XComError `E_INVALID_KEY` naming `uri` for a negative or reversed range.
 */
export function spanOf(range: GetOptions['range'], size: number, uri: string): Span {
  const checked = checkRange(range, uri)
  if (checked === undefined) return { empty: false }
  const { start, end } = checked
  // GCS answers 416 for a range that starts at or past the end; the store returns no bytes instead.
  if (start >= size) return { empty: true }
  return { start, end: Math.min(end ?? size - 1, size - 1), empty: false }
}

/**
 * The body of `file` (pinned to a generation by the caller) for `info`: every `stream()` or `bytes()` downloads `span`
 * anew, checked against the object's checksum when it is the whole object.
 */
export function bodyOf(
  info: ObjectInfo,
  file: File,
  span: Span,
  validation: 'crc32c' | 'md5' | false,
  uri: string,
  signal: AbortSignal | undefined,
): ObjectBody {
  const open = (): AsyncIterable<Bytes> => {
    if (span.empty) return (async function* () {})()
    // The SDK refuses validation on ranges: GCS holds checksums of whole objects only.
    const download = file.createReadStream(
      span.start === undefined ? { validation } : { validation: false, start: span.start, end: span.end },
    )
    if (signal) Readable.addAbortSignal(signal, download)
    return mapErrors(download, uri, signal)
  }
  return {
    ...info,
    stream: () => toReadableStream(open(), 0),
    bytes: async () => {
      const chunks: Bytes[] = []
      for await (const chunk of open()) chunks.push(chunk)
      return plainBytes(concatBytes(chunks))
    },
  }
}

/** The download's chunks with its errors mapped to XComErrors (and an abort passed through as the abort reason). */
async function* mapErrors(
  download: Readable,
  uri: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<Bytes> {
  try {
    for await (const chunk of download) yield plainBytes(chunk as Bytes)
  } catch (error) {
    if (signal?.aborted) throw signal.reason ?? error
    throw toXComError(error, { action: 'reading', uri })
  } finally {
    download.destroy()
  }
}
