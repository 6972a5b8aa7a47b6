import type { S3Client } from '@aws-sdk/client-s3'
import { logRetry } from '@xcom/core/adapter'

/** The name of the middleware that logs retries (one per client, however many stores share it). */
export const RETRY_LOG_MIDDLEWARE = 'xcomRetryLog'

/**
 * Adds the retry log to `client`'s middleware stack, once: a client shared by stores (or passed in twice) keeps a
 * single copy. It runs once per attempt, just after the SDK's retry middleware, and logs every attempt after the
 * first at `info` through the active XCom operation's logger (nothing outside one), naming the command, the object
 * URI (`s3://[connectionId@]bucket/key`, rebuilt from the command's input: never a signed URL), the attempt and why
 * the previous one failed (HTTP status and S3 error code, or the network error code).
 * @param connectionId shown in the URIs; left out for a client given by the caller (other stores may share it).
 */
export function addRetryLog(client: S3Client, connectionId?: string): void {
  const stack = client.middlewareStack
  if (stack.identify().some((entry) => entry.startsWith(`${RETRY_LOG_MIDDLEWARE} `))) return
  const user = connectionId ? `${connectionId}@` : ''
  // Typed by hand: the stack's middleware type is a union of every step's, which infers nothing.
  const middleware = (next: Next, context: { commandName?: string }) => {
    // One closure per command sent: the retry middleware calls the returned handler once per attempt.
    let attempt = 0
    let reason = 'unknown'
    return async (args: { input: unknown }) => {
      attempt += 1
      if (attempt > 1) {
        const input = args.input as { Bucket?: unknown; Key?: unknown }
        const bucket = typeof input.Bucket === 'string' ? input.Bucket : ''
        const key = typeof input.Key === 'string' ? `/${input.Key}` : ''
        const uri = `s3://${user}${bucket}${key}`
        const operation = (context.commandName ?? 'request').replace(/Command$/, '')
        logRetry({ operation, uri, attempt, reason })
      }
      try {
        return await next(args)
      } catch (error) {
        reason = reasonOf(error)
        throw error
      }
    }
  }
  stack.addRelativeTo(middleware as never, {
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    name: RETRY_LOG_MIDDLEWARE,
    tags: ['XCOM', 'LOGGING'],
  })
}

type Next = (args: { input: unknown }) => Promise<unknown>

/** Why an attempt failed, in codes only (messages may quote request details): `503 SlowDown`, `ECONNRESET`. */
export function reasonOf(error: unknown): string {
  const failure = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } }
  const status = failure?.$metadata?.httpStatusCode
  const name = typeof failure?.name === 'string' ? failure.name : 'Error'
  if (typeof status === 'number') return `${status} ${name}`
  return typeof failure?.code === 'string' ? failure.code : name
}
