import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'

/** Credentials for the S3 client: static keys or an SDK credential provider. */
export type S3Credentials = NonNullable<S3ClientConfig['credentials']>

/** What {@link createClient} builds a client from. */
export interface ClientSettings {
  region?: string | undefined
  endpoint?: string | undefined
  forcePathStyle?: boolean | undefined
  credentials?: S3Credentials | undefined
  clientConfig?: S3ClientConfig | undefined
  retryOptions?: Pick<S3ClientConfig, 'maxAttempts' | 'retryMode' | 'retryStrategy'> | undefined
}

/**
 * The S3 client of a store that was given no client: `clientConfig` with the store's retry settings, region,
 * endpoint, path style and credentials on top, and a socket pool of `maxSockets` (see {@link sizedRequestHandler}).
 */
export function createClient(settings: ClientSettings, maxSockets: number): S3Client {
  const config = settings.clientConfig ?? {}
  return new S3Client({
    ...config,
    ...defined({ ...settings.retryOptions }),
    requestHandler: sizedRequestHandler(config.requestHandler, maxSockets),
    ...defined({
      // An S3-compatible endpoint rarely has regions, but the SDK signs for one.
      region: settings.region ?? config.region ?? (settings.endpoint ? 'us-east-1' : undefined),
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: settings.credentials,
    }),
  })
}

/**
 * Request handler settings whose http and https agents hold up to `maxSockets` sockets. The SDK's default pool of 50
 * is smaller than what a store keeps in flight under load (40 concurrent reads of 4 parts each are 160 requests), and
 * requests waiting for a socket make the SDK warn "socket usage at capacity". A handler instance or an agent instance
 * is the caller's own and is returned as is; a `maxSockets` in the caller's agent options wins.
 */
export function sizedRequestHandler(
  handler: S3ClientConfig['requestHandler'],
  maxSockets: number,
): S3ClientConfig['requestHandler'] {
  if (handler !== undefined && (typeof handler !== 'object' || handler === null || isInstance(handler))) {
    return handler
  }
  const options = (handler ?? {}) as Record<string, unknown>
  const agent = (given: unknown) =>
    isInstance(given) ? given : { maxSockets, ...(given as Record<string, unknown> | undefined) }
  return { ...options, httpAgent: agent(options.httpAgent), httpsAgent: agent(options.httpsAgent) }
}

/** True for a built object (a handler with `handle`, an agent with `destroy`) rather than plain options. */
function isInstance(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as { handle?: unknown; destroy?: unknown }
  return typeof candidate.handle === 'function' || typeof candidate.destroy === 'function'
}

/**
 * The strings of static credentials that must never appear in a message or a log: access key id, secret access key
 * and session token. A credential provider's values are not known in advance (and never put in messages by this
 * package).
 */
export function secretsOf(credentials: S3Credentials | undefined): string[] {
  if (typeof credentials !== 'object' || credentials === null) return []
  return [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken ?? ''].filter(
    (secret) => typeof secret === 'string' && secret !== '',
  )
}

function defined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>
}
