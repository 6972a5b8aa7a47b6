import { XComError } from '@xcom/core'

/**
 * Builds the errors one codec raises, worded the same way everywhere: what was being done, to which data, and what
 * to do next.
 */
export class Failures {
  /** The codec name, e.g. `gzip`. */
  readonly codec: string
  /** The object the data came from, when the caller said so (never holds secrets). */
  readonly uri: string | undefined

  constructor(codec: string, uri?: string) {
    this.codec = codec
    this.uri = uri
  }

  private get source(): string {
    return this.uri === undefined ? '' : ` from ${this.uri}`
  }

  /** `E_CORRUPT`: the input is damaged, truncated, or not in this format. */
  corrupt(detail: string, cause?: unknown): XComError {
    return new XComError(
      'E_CORRUPT',
      `Cannot decompress ${this.codec} data${this.source}: ${detail}. The data is damaged, truncated or not ` +
        `${this.codec}; push the value again, or read it with the codec it was written with.`,
      { cause, uri: this.uri },
    )
  }

  /** `E_TOO_LARGE`: the decompressed output went past `maxSize`. */
  tooLarge(maxSize: number): XComError {
    return new XComError(
      'E_TOO_LARGE',
      `Decompressing ${this.codec} data${this.source} produced more than the maximum of ${maxSize} bytes ` +
        '(maxSize), so it was stopped (a decompression bomb, or a value larger than allowed); raise maxSize if the ' +
        'value is legitimately this large.',
      { uri: this.uri },
    )
  }

  /** `E_UNKNOWN_CODEC`: valid data using a feature this package does not implement. */
  unsupported(detail: string): XComError {
    return new XComError(
      'E_UNKNOWN_CODEC',
      `Cannot decompress ${this.codec} data${this.source}: ${detail}.`,
      { uri: this.uri },
    )
  }

  /** `E_BACKEND`: compression itself failed (the runtime's compressor reported an error). */
  compressionFailed(cause: unknown): XComError {
    return new XComError(
      'E_BACKEND',
      `${this.codec} compression failed: ${messageOf(cause)}. This is a fault of the runtime's compressor, not of ` +
        'the data; retry, and report it if it persists.',
      { cause },
    )
  }

  /** Turns anything a decompressor threw into an {@link XComError}: XComErrors pass through, others are corruption. */
  fromDecoder(error: unknown): XComError {
    if (XComError.is(error)) return error
    const code = (error as { code?: unknown } | null)?.code
    if (code === 'Z_BUF_ERROR') return this.corrupt('the data ends before the compressed stream does', error)
    return this.corrupt(messageOf(error), error)
  }

  /** Turns anything a compressor threw into an {@link XComError}. */
  fromEncoder(error: unknown): XComError {
    return XComError.is(error) ? error : this.compressionFailed(error)
  }
}

/** `E_CONFIG` for a bad option given to a codec factory or helper. */
export function badOption(what: string, detail: string): XComError {
  return new XComError('E_CONFIG', `Invalid ${what}: ${detail}.`)
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
