export { type AzuriteHandle, type AzuriteOptions, startAzurite } from './azurite.ts'
export {
  type CompareTransfersOptions,
  compareTransfers,
  storeSide,
  type TransferReport,
  type TransferSide,
  xcomSide,
} from './bench.ts'
export { type FaultAnswer, type FaultProxy, startFaultProxy } from './fault-proxy.ts'
export { freePort } from './free-port.ts'
export { crc32cBase64, crc32cUpdate } from './gcs/crc32c.ts'
export type { Fault, FaultRule } from './gcs/faults.ts'
export {
  type GcsServerHandle,
  type GcsServerOptions,
  type LoggedRequest,
  startGcsServer,
} from './gcs/server.ts'
export { type S3rverHandle, type S3rverOptions, startS3rver } from './s3rver.ts'
export { isCi, type RequireServiceOptions, requireServiceOrSkip } from './service-policy.ts'
export {
  type CapturedLine,
  captureLogger,
  listedKeys,
  type RecordedMeter,
  recordedText,
  recordTelemetry,
  type TelemetryRecording,
} from './telemetry.ts'
