import type { Bucket, StoredObject } from './state.ts'

/**
 * The bucket resource JSON, numbers as strings as the JSON API sends them.
 * @param base - `http://host:port` the client addressed, for `selfLink`
 */
export function bucketResource(bucket: Bucket, base: string): Record<string, unknown> {
  return {
    kind: 'storage#bucket',
    id: bucket.name,
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(bucket.name)}`,
    projectNumber: '0',
    name: bucket.name,
    timeCreated: bucket.timeCreated,
    updated: bucket.timeCreated,
    metageneration: '1',
    location: bucket.location,
    locationType: 'region',
    storageClass: bucket.storageClass,
    etag: 'CAE=',
    ...(bucket.labels ? { labels: bucket.labels } : {}),
  }
}

/**
 * The object resource JSON, numbers as strings as the JSON API sends them; `metadata` is left out when empty.
 * @param base - `http://host:port` the client addressed, for `selfLink` and `mediaLink`
 */
export function objectResource(object: StoredObject, base: string): Record<string, unknown> {
  const path = `b/${encodeURIComponent(object.bucket)}/o/${encodeURIComponent(object.name)}`
  return {
    kind: 'storage#object',
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${base}/storage/v1/${path}`,
    mediaLink: `${base}/download/storage/v1/${path}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: object.generation,
    metageneration: String(object.metageneration),
    contentType: object.contentType,
    storageClass: 'STANDARD',
    size: String(object.size),
    md5Hash: object.md5Hash,
    crc32c: object.crc32c,
    etag: etag(object),
    timeCreated: object.timeCreated,
    updated: object.updated,
    timeStorageClassUpdated: object.timeCreated,
    ...object.fields,
    ...(Object.keys(object.metadata).length > 0 ? { metadata: object.metadata } : {}),
  }
}

/** The object's ETag: it changes with every generation and metageneration. */
export function etag(object: StoredObject): string {
  return Buffer.from(`${object.generation}/${object.metageneration}`).toString('base64')
}
