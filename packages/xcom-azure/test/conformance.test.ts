import { AccountSASPermissions } from '@azure/storage-blob'
import { describeObjectStore } from '@xcom/testing'
import { AzureBlobObjectStore } from '../src/index.ts'
import { azuriteFor, realAzureSkipNote, realAzureTarget } from './support.ts'

const azurite = await azuriteFor('the conformance suite')

if (azurite) {
  // Blocks of 1 MiB: the 6 MiB object of the suite is staged as blocks, three in flight; batches delete.
  describeObjectStore(
    'AzureBlobObjectStore on azurite (connection string, prefix, staged blocks)',
    ({ pageSize }) =>
      new AzureBlobObjectStore({
        connectionString: azurite.connectionString,
        container: azurite.container,
        prefix: `${azurite.runPrefix}/staged`,
        blockSize: 1024 * 1024,
        concurrency: 3,
        pageSize,
      }),
  )

  // A SAS token and no prefix. azurite refuses blob batches signed with a SAS (HTTP 500), so this run also proves the
  // fall back to one delete per blob; one try per request keeps that refusal quick.
  describeObjectStore(
    'AzureBlobObjectStore on azurite (SAS token, no prefix, batch refused)',
    ({ pageSize }) => {
      const sas = azurite.service.generateAccountSasUrl(
        new Date(Date.now() + 3_600_000),
        AccountSASPermissions.parse('rwdlac'),
        'sco',
      )
      const sasUrl = new URL(sas)
      return new AzureBlobObjectStore({
        accountUrl: `${sasUrl.origin}${sasUrl.pathname}`,
        sasToken: sasUrl.search,
        container: azurite.container,
        retryOptions: { maxTries: 1 },
        pageSize,
      })
    },
  )
}

const real = realAzureTarget()
if (real) {
  describeObjectStore('AzureBlobObjectStore on real Azure', ({ pageSize }) => {
    return new AzureBlobObjectStore({
      connectionString: real.connectionString,
      container: real.container,
      prefix: real.runPrefix,
      blockSize: 4 * 1024 * 1024,
      pageSize,
    })
  })
} else {
  console.info(realAzureSkipNote())
}
