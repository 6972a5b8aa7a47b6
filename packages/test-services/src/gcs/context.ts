import type { IncomingMessage, ServerResponse } from 'node:http'
import type { GcsState } from './state.ts'

/** What a handler needs to answer one request. */
export interface RequestContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The query parameters; handlers ignore the ones they do not know, as GCS does. */
  readonly query: URLSearchParams
  /** `http://host:port` as the client addressed the server: links GCS returns (selfLink, Location) are absolute. */
  readonly base: string
  /** The server's buckets, objects and upload sessions. */
  readonly state: GcsState
  /** The largest object accepted, in bytes. */
  readonly maxObjectSize: number
}
