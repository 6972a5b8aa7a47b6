import { randomUUID } from 'node:crypto'
import { BlobServiceClient } from '@azure/storage-blob'
import { type AzuriteHandle, requireServiceOrSkip, startAzurite } from '@xcom/test-services'
import { afterAll, it } from 'vitest'

/** An account the suites run against: azurite (always), or a real Azure account (when configured). */
export interface AzureTarget {
  name: string
  connectionString: string
  /** A container that exists, for this run. */
  container: string
  /** A prefix unique to this run, so runs sharing a real container never meet. */
  runPrefix: string
  /** The raw service client, for looking behind the store's back. */
  service: BlobServiceClient
  /** Azurite only: its handle (account key, endpoint). */
  azurite: AzuriteHandle | undefined
  stop(): Promise<void>
}

/**
 * Starts azurite and creates a fresh container. Locally, when azurite cannot start, a loud warning is printed and
 * undefined returned (the caller's tests skip); under CI=true the start failure is thrown.
 */
export async function startAzuriteTarget(): Promise<AzureTarget | undefined> {
  const azurite = await requireServiceOrSkip('azurite', () => startAzurite())
  if (!azurite) return undefined
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString)
  const container = `xcom-${randomUUID().slice(0, 8)}`
  await service.getContainerClient(container).create()
  return {
    name: 'azurite',
    connectionString: azurite.connectionString,
    container,
    runPrefix: `run-${randomUUID().slice(0, 8)}`,
    service,
    azurite,
    stop: () => azurite.stop(),
  }
}

/**
 * Azurite for the calling test file, stopped after it. When it cannot start, one skipped test says that `what` did not
 * run (the caller registers nothing else).
 */
export async function azuriteFor(what: string): Promise<AzureTarget | undefined> {
  const target = await startAzuriteTarget()
  afterAll(() => target?.stop())
  if (!target)
    it(`runs ${what} on azurite (azurite could not start: see the warning above)`, (ctx) => ctx.skip())
  return target
}

/** The environment variables that point the suites at a real Azure account. */
export const REAL_AZURE_VARIABLES = [
  'XCOM_TEST_AZURE_CONNECTION_STRING',
  'XCOM_TEST_AZURE_CONTAINER',
] as const

/**
 * A real Azure account from XCOM_TEST_AZURE_CONNECTION_STRING and XCOM_TEST_AZURE_CONTAINER (an existing container;
 * every object is written under a fresh `run-<id>` prefix and deleted by the suites), or undefined when they are unset.
 */
export function realAzureTarget(): AzureTarget | undefined {
  const connectionString = process.env.XCOM_TEST_AZURE_CONNECTION_STRING
  const container = process.env.XCOM_TEST_AZURE_CONTAINER
  if (!connectionString || !container) return undefined
  return {
    name: 'real Azure',
    connectionString,
    container,
    runPrefix: `xcom-test-run-${randomUUID().slice(0, 8)}`,
    service: BlobServiceClient.fromConnectionString(connectionString),
    azurite: undefined,
    stop: async () => {},
  }
}

/** Why the real-Azure runs are skipped, printed once per file. */
export function realAzureSkipNote(): string {
  return `Real Azure runs skipped: set ${REAL_AZURE_VARIABLES.join(' and ')} to run the same suites against an Azure account.`
}

/** Blob names under `prefix` in a container, read with the raw SDK. */
export async function blobNames(
  service: BlobServiceClient,
  container: string,
  prefix: string,
): Promise<string[]> {
  const names: string[] = []
  for await (const item of service.getContainerClient(container).listBlobsFlat({ prefix }))
    names.push(item.name)
  return names.sort()
}
