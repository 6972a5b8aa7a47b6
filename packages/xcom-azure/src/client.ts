import {
  AnonymousCredential,
  BlobServiceClient,
  type StoragePipelineOptions,
  type StorageRetryOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob'
import { XComError } from '@xcom/core'
import type { AzureCredentialOptions } from './connection.ts'
import { scrub } from './errors.ts'
import type { RetryLogPolicy } from './retries.ts'

/**
 * Builds the service client from credential options (first of: connection string, key, SAS, anonymous), with the
 * `policy` run per attempt (the retry log).
 */
export function buildServiceClient(
  options: AzureCredentialOptions & { retryOptions?: StorageRetryOptions | undefined },
  url: string,
  policy: RetryLogPolicy,
): BlobServiceClient {
  const pipeline = withPolicy(options.retryOptions ? { retryOptions: options.retryOptions } : {}, policy)
  if (options.connectionString) {
    try {
      return BlobServiceClient.fromConnectionString(options.connectionString, pipeline)
    } catch (error) {
      throw new XComError(
        'E_CONFIG',
        `The Azure connection string for ${url} is not valid: expected "DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net" or one with BlobEndpoint and SharedAccessSignature.`,
        { cause: new Error(scrub(String((error as Error)?.message ?? error), [options.connectionString])) },
      )
    }
  }
  const accountUrl = (
    options.accountUrl ?? (options.accountName ? `https://${options.accountName}.blob.core.windows.net` : '')
  ).replace(/\/+$/, '')
  if (!accountUrl) {
    throw new XComError(
      'E_CONFIG',
      `No Azure account for ${url}: pass one of client, connectionString, accountName (+ accountKey or sasToken) or accountUrl.`,
    )
  }
  if (!/^https?:\/\/[^/]/i.test(accountUrl)) {
    throw new XComError(
      'E_CONFIG',
      `The Azure account URL for ${url} must start with https:// (or http:// for an emulator).`,
    )
  }
  if (options.accountKey) {
    const accountName = options.accountName ?? accountNameOf(accountUrl)
    if (!accountName) {
      throw new XComError('E_CONFIG', `An account key for ${url} needs the account name: pass accountName.`)
    }
    return new BlobServiceClient(
      accountUrl,
      new StorageSharedKeyCredential(accountName, options.accountKey),
      pipeline,
    )
  }
  if (options.sasToken) {
    const joiner = accountUrl.includes('?') ? '&' : '?'
    return new BlobServiceClient(
      `${accountUrl}${joiner}${options.sasToken.replace(/^\?/, '')}`,
      new AnonymousCredential(),
      pipeline,
    )
  }
  if (options.anonymous || accountUrl.includes('?')) {
    return new BlobServiceClient(accountUrl, new AnonymousCredential(), pipeline)
  }
  throw new XComError(
    'E_CONFIG',
    `No Azure credentials for ${url}: pass accountKey, sasToken or connectionString, anonymous: true for a public container, ` +
      'or a client built with a credential of @azure/identity (e.g. new BlobServiceClient(accountUrl, new DefaultAzureCredential())).',
  )
}

/**
 * `options` with `policy` added at position `perRetry`. Every client derived from a service client (container, blob)
 * shares its pipeline but hands its options to @azure/core-client again, which would add the policy again and fail
 * ("Duplicate policy names"): so `additionalPolicies` (honoured, though missing from the storage package's type) is
 * given to the first reader only.
 */
export function withPolicy(
  options: StoragePipelineOptions,
  policy: { name: string; sendRequest: (...args: never[]) => unknown },
): StoragePipelineOptions {
  let given = false
  return Object.defineProperty({ ...options }, 'additionalPolicies', {
    enumerable: true,
    get() {
      if (given) return undefined
      given = true
      return [{ policy, position: 'perRetry' }]
    },
  })
}

/** The account name in an account URL: the first host label, or the first path segment for an IP or localhost. */
function accountNameOf(accountUrl: string): string | undefined {
  const url = new URL(accountUrl)
  const ipStyle = /^(?:\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]|localhost)$/i.test(url.hostname)
  return (ipStyle ? url.pathname.split('/')[1] : url.hostname.split('.')[0]) || undefined
}
