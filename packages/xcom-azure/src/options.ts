import type { BlobServiceClient, ContainerClient, StorageRetryOptions } from '@azure/storage-blob'
import { XComError } from '@xcom/core'
import type { AzureCredentialOptions } from './connection.ts'
import { MAX_BLOCK_SIZE, MAX_BLOCKS } from './upload.ts'

/** Container names: 3-63 of lowercase letters, digits and single hyphens, starting and ending alphanumeric. */
const CONTAINER_NAME = /^(?:\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/

/** Options of `AzureBlobObjectStore`: a ready client, or the credential options to build one. */
export interface AzureBlobObjectStoreOptions extends AzureCredentialOptions {
  /**
   * A ready client (built with any credential, e.g. from `@azure/identity`). A `ContainerClient` fixes the container.
   * The store never closes a client it was given.
   */
  client?: BlobServiceClient | ContainerClient
  /** The container. Optional only when `client` is a `ContainerClient`. */
  container?: string
  /** Prefix of every blob name, joined to object keys with `/`. @default "" */
  prefix?: string
  /**
   * Bodies up to this size go up in one request; larger ones are staged as blocks of this size.
   * @default 16 MiB (with `concurrency` 4: about 64 MiB per transfer; measured fastest against azurite)
   */
  blockSize?: number
  /**
   * Blocks of one transfer in memory and in flight: blocks staged at once by an upload, ranges read ahead by a
   * download (memory per transfer is about `blockSize * concurrency`).
   * @default 4
   */
  concurrency?: number
  /** Blob names asked for per page when listing (the service caps it at 5000). @default 1000 */
  pageSize?: number
  /**
   * Delete with blob batch requests of up to 256 blobs. When the service refuses a batch (accounts with a
   * hierarchical namespace, azurite with SAS credentials), the store deletes one blob at a time instead.
   * @default true
   */
  batchDelete?: boolean
  /** Blobs deleted at once when deleting one at a time. @default 16 */
  deleteConcurrency?: number
  /** Retries of downloads whose stream breaks half way (each resumes where it stopped). @default 5 */
  maxDownloadRetries?: number
  /** The SDK's retry settings, for a client the store builds (not for a given `client`). @default the SDK's */
  retryOptions?: StorageRetryOptions
  /** The URL scheme shown in `url`. @default "abfs" */
  scheme?: string
  /** The connection id shown in `url` (`abfs://<connectionId>@container/prefix`). @default none */
  connectionId?: string
}

/** The options of a store, checked and with their defaults. */
export interface AzureSettings {
  container: string
  /** Without leading or trailing `/`. */
  prefix: string
  /** `<scheme>://[<connectionId>@]<container>[/<prefix>]`. */
  url: string
  blockSize: number
  concurrency: number
  pageSize: number
  batchDelete: boolean
  deleteConcurrency: number
  maxDownloadRetries: number
  /** The largest body: {@link MAX_BLOCKS} blocks of `blockSize`. */
  maxObjectSize: number
  /** The secrets among the options, scrubbed from every message. */
  secrets: string[]
}

/**
 * Checks the options of a store and fills in the defaults.
 * @throws XComError `E_CONFIG` when no container is named, the container name is invalid or differs from the given
 *   `ContainerClient`'s, or a size is out of range (messages never contain secrets).
 */
export function resolveOptions(options: AzureBlobObjectStoreOptions): AzureSettings {
  const container = options?.container ?? containerOf(options?.client)
  const prefix = (options?.prefix ?? '').replace(/^\/+|\/+$/g, '')
  const connection = options?.connectionId ? `${options.connectionId}@` : ''
  const url = `${options?.scheme ?? 'abfs'}://${connection}${container ?? ''}${prefix ? `/${prefix}` : ''}`
  if (!container) {
    throw new XComError(
      'E_CONFIG',
      `new AzureBlobObjectStore() needs a container: pass { container } or a ContainerClient.`,
    )
  }
  if (!CONTAINER_NAME.test(container)) {
    throw new XComError(
      'E_CONFIG',
      `Invalid Azure container name "${container}" for ${url}: use 3-63 lowercase letters, digits and single hyphens.`,
    )
  }
  const clientContainer = containerOf(options.client)
  if (clientContainer !== undefined && clientContainer !== container) {
    throw new XComError(
      'E_CONFIG',
      `The ContainerClient given for ${url} is for container "${clientContainer}", not "${container}": pass one or the other.`,
    )
  }
  const blockSize = sizeOption('blockSize', options.blockSize, 16 * 1024 * 1024, MAX_BLOCK_SIZE)
  return {
    container,
    prefix,
    url,
    blockSize,
    concurrency: sizeOption('concurrency', options.concurrency, 4, 64),
    pageSize: sizeOption('pageSize', options.pageSize, 1000, 5000),
    batchDelete: options.batchDelete ?? true,
    deleteConcurrency: sizeOption('deleteConcurrency', options.deleteConcurrency, 16, 256),
    maxDownloadRetries: options.maxDownloadRetries ?? 5,
    maxObjectSize: blockSize * MAX_BLOCKS,
    secrets: [options.accountKey, options.sasToken, options.connectionString].filter(
      (secret): secret is string => typeof secret === 'string' && secret !== '',
    ),
  }
}

/** The container of a `ContainerClient`, undefined for a service client or none. */
function containerOf(client: BlobServiceClient | ContainerClient | undefined): string | undefined {
  return client && !('getContainerClient' in client) ? client.containerName : undefined
}

function sizeOption(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new XComError(
      'E_CONFIG',
      `AzureBlobObjectStore option ${name} must be an integer from 1 to ${max}, not ${value}.`,
    )
  }
  return value
}
