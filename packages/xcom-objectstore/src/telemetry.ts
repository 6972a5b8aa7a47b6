import { formatIdentity, type XComKey } from '@xcom/core'
import { errorType, storageAttributes, type Telemetry } from '@xcom/core/adapter'
import { uriOf } from './store-util.ts'

/** `debug`: the configured codec was not used for this value because it did not shrink it enough. */
export function logCompressionSkipped(
  telemetry: Telemetry,
  ctx: XComKey,
  codec: string,
  size: number,
  compressedSize: number | undefined,
): void {
  if (!telemetry.logger.enabled('debug')) return
  const xcom = formatIdentity(ctx)
  const trial = compressedSize === undefined ? '' : ` (${compressedSize} bytes compressed)`
  telemetry.logger.debug(
    `XCom ${xcom}: ${codec} skipped, ${size} bytes do not compress enough${trial}; stored uncompressed.`,
    { xcom, codec, size, compressedSize },
  )
}

/** `debug`: a value went to object storage. */
export function logOffloaded(
  telemetry: Telemetry,
  ctx: XComKey,
  uri: string,
  size: number,
  storedSize: number,
  codec: string,
): void {
  if (!telemetry.logger.enabled('debug')) return
  const xcom = formatIdentity(ctx)
  telemetry.logger.debug(
    `XCom ${xcom} offloaded to ${uri}: ${size} bytes stored as ${storedSize} (codec ${codec}).`,
    { xcom, uri, size, storedSize, codec },
  )
}

/** `warn`: reading one replica failed and the next is read instead. */
export function logReplicaFallback(
  telemetry: Telemetry,
  ctx: XComKey | undefined,
  failed: string,
  objectKey: string,
  next: string,
  error: unknown,
): void {
  if (!telemetry.logger.enabled('warn')) return
  const xcom = ctx ? formatIdentity(ctx) : objectKey
  const uri = uriOf(failed, objectKey)
  const code = errorType(error)
  telemetry.logger.warn(
    `Reading XCom ${xcom} from ${uri} failed (${code}), reading the next replica (${next}): ${(error as Error)?.message ?? String(error)}`,
    { xcom, uri, code, next },
  )
}

/** Counts a stored copy whose bytes failed their size or checksum check (`E_CORRUPT` from verification). */
export function countChecksumFailure(telemetry: Telemetry, storeUrl: string, algorithm?: string): void {
  telemetry.count('xcom.checksum.failures', 1, {
    'xcom.storage.scheme': storageAttributes(storeUrl)['xcom.storage.scheme'],
    'xcom.checksum.algorithm': algorithm,
  })
}
