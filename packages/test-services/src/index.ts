export { type AzuriteHandle, type AzuriteOptions, startAzurite } from './azurite.js'
export {
  type CompareTransfersOptions,
  compareTransfers,
  type TransferReport,
  type TransferSide,
} from './bench.js'
export { freePort } from './free-port.js'
export { crc32cBase64, crc32cUpdate } from './gcs/crc32c.js'
export {
  type Fault,
  type FaultRule,
  type GcsServerHandle,
  type GcsServerOptions,
  type LoggedRequest,
  startGcsServer,
} from './gcs/server.js'
export { type S3rverHandle, type S3rverOptions, startS3rver } from './s3rver.js'
export { isCi, type RequireServiceOptions, requireServiceOrSkip } from './service-policy.js'
