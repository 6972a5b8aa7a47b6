/** What the load parent tells each worker, and what a worker reports back. */

/** `xcom`: XCom on PostgresMetadataStore + S3ObjectStore; `raw`: pg and the S3 SDK called directly. */
export type LoadMode = 'xcom' | 'raw'

/** A worker's assignment (JSON in the XCOM_RELIABILITY_WORKER environment variable). */
export interface WorkerConfig {
  mode: LoadMode
  index: number
  seed: number
  seconds: number
  s3Endpoint: string
  /** The PostgreSQL connection URL, with the run's application_name. */
  postgresUrl: string
  schema: string
  /** Share of pushes that are offloaded (the rest stay inline). */
  offloadedShare: number
  /** Size range of offloaded values, in bytes. */
  offloadedBytes: { min: number; max: number }
}

/** Latencies in milliseconds, by value shape. */
export interface Latencies {
  inline: number[]
  offloaded: number[]
}

/** A worker's report. */
export interface WorkerResult {
  index: number
  pushes: number
  pulls: number
  bytes: number
  latencies: Latencies
  errors: number
  errorSamples: string[]
  /** Pulls whose value did not match what this worker pushed last (must be 0). */
  mismatches: number
  elapsedMs: number
}
