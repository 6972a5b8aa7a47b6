import { type Bytes, type Codec, type CodecResolver, XComError } from '@xcom/core'
import { importModule } from '@xcom/core/adapter'

/** The package whose `codecs` resolver is used when the backend is given none. */
const COMPRESSION_PACKAGE = '@xcom/compression'

/**
 * The codecs a backend reads with: its own `compression`, else those its {@link CodecResolver} finds (the one given,
 * or `@xcom/compression`'s, imported only on the first lookup so that backends that never meet a foreign codec do not
 * need the package). Codecs found by name are kept for the backend's lifetime; a failed lookup is tried again.
 */
export class CodecLookup {
  readonly #compression: Codec | undefined
  readonly #resolver: CodecResolver | undefined
  readonly #byName = new Map<string, Promise<Codec>>()

  constructor(compression: Codec | undefined, resolver: CodecResolver | undefined) {
    this.#compression = compression
    this.#resolver = resolver
  }

  /**
   * The codec called `name`; undefined for `none`. `source` names what is being done, for errors.
   * @throws XComError `E_UNKNOWN_CODEC` naming `source` and the valid names; `E_CONFIG` naming the package to install
   * when no resolver was given and `@xcom/compression` is missing.
   */
  async named(name: string, source: string): Promise<Codec | undefined> {
    if (name === 'none') return undefined
    if (this.#compression?.name === name) return this.#compression
    let codec = this.#byName.get(name)
    if (!codec) {
      codec = codecNamed(name, `${source} (compressed with ${name})`, 'E_UNKNOWN_CODEC', this.#resolver)
      this.#byName.set(name, codec)
      codec.catch(() => this.#byName.delete(name))
    }
    return codec
  }

  /**
   * The codec of an object no reference describes: by its key's suffix, else by its first bytes; undefined when
   * neither names one (the object is taken as uncompressed).
   * @throws XComError `E_CONFIG` naming the package to install when no resolver was given and `@xcom/compression` is
   * missing; `E_UNKNOWN_CODEC` for a recognised format the resolver cannot read.
   */
  async inferred(objectKey: string, head: Bytes, source: string): Promise<Codec | undefined> {
    const resolver = await resolverOf(this.#resolver, `${source} (to infer its compression)`)
    return resolver.bySuffix(objectKey) ?? resolver.byMagic(head.subarray(0, 16))
  }
}

/**
 * The codec called `name`, found by `resolver` (default: `@xcom/compression`'s).
 * @throws XComError `code` naming `source` and the valid names; `E_CONFIG` naming `source` and the package to install
 * when no resolver was given and `@xcom/compression` is missing.
 */
export async function codecNamed(
  name: string,
  source: string,
  code: 'E_CONFIG' | 'E_UNKNOWN_CODEC',
  resolver?: CodecResolver,
): Promise<Codec> {
  const codecs = await resolverOf(resolver, source)
  try {
    return await codecs.byName(name)
  } catch (error) {
    throw new XComError(code, `${source}: ${(error as Error)?.message ?? String(error)}`, { cause: error })
  }
}

/**
 * `given`, else the `codecs` export of `@xcom/compression`, imported now.
 * @throws XComError `E_CONFIG` naming `source` and the package to install (or to upgrade, when it has no `codecs`).
 */
async function resolverOf(given: CodecResolver | undefined, source: string): Promise<CodecResolver> {
  if (given) return given
  const { codecs } = await importModule(COMPRESSION_PACKAGE, source)
  if (typeof (codecs as Partial<CodecResolver> | undefined)?.byName !== 'function') {
    throw new XComError(
      'E_CONFIG',
      `${source}: ${COMPRESSION_PACKAGE} does not export a CodecResolver named codecs: upgrade it, or pass the codecs option.`,
    )
  }
  return codecs as CodecResolver
}
