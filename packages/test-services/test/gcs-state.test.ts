import { describe, expect, it } from 'vitest'
import { ChunkedBytes } from '../src/gcs/bytes.ts'
import { uploadMetadata } from '../src/gcs/params.ts'
import { GcsState } from '../src/gcs/state.ts'

function stateWithObject() {
  const state = new GcsState()
  const bucket = state.createBucket({ name: 'bkt' })
  const upload = uploadMetadata({ cacheControl: 'no-store', metadata: { keep: 1 } }, 'text/plain')
  const object = state.commitObject(bucket, 'a.txt', new ChunkedBytes([Buffer.from('abc')]), upload, {})
  return { state, bucket, object }
}

describe('GcsState', () => {
  it('gives every commit a higher generation, even within the same millisecond', () => {
    const { state, bucket } = stateWithObject()
    const generations = Array.from({ length: 50 }, () => {
      const upload = uploadMetadata({}, undefined)
      return BigInt(state.commitObject(bucket, 'same', new ChunkedBytes(), upload, {}).generation)
    })
    for (let i = 1; i < generations.length; i++) expect(generations[i]! > generations[i - 1]!).toBe(true)
  })

  it('refuses a commit whose declared crc32c differs and keeps the live object', () => {
    const { state, bucket, object } = stateWithObject()
    const upload = uploadMetadata({ crc32c: 'AAAAAA==' }, undefined)
    expect(() =>
      state.commitObject(bucket, 'a.txt', new ChunkedBytes([Buffer.from('x')]), upload, {}),
    ).toThrow(/doesn't match/)
    expect(state.findObject('bkt', 'a.txt')).toBe(object)
  })

  it('applies a PATCH all or nothing', () => {
    const { state, object } = stateWithObject()
    expect(() =>
      state.patchObject(object, {
        contentType: 'x/y',
        cacheControl: null,
        metadata: { add: '2' },
        contentLanguage: 3,
      }),
    ).toThrow(/contentLanguage/)
    expect(object).toMatchObject({
      contentType: 'text/plain',
      fields: { cacheControl: 'no-store' },
      metadata: { keep: '1' },
      metageneration: 1,
    })
    state.patchObject(object, { contentType: 'x/y', cacheControl: null, metadata: { add: 2, keep: null } })
    expect(object).toMatchObject({
      contentType: 'x/y',
      fields: {},
      metadata: { add: '2' },
      metageneration: 2,
    })
  })

  it('finds an upload session only through the bucket it was opened on', () => {
    const { state, bucket } = stateWithObject()
    const other = state.createBucket({ name: 'other' })
    const session = state.openSession(bucket, 'b.txt', uploadMetadata({}, undefined), {}, undefined)
    expect(state.session(bucket, session.id)).toBe(session)
    expect(() => state.session(other, session.id)).toThrow(/No such upload session/)
    state.closeSession(session.id)
    expect(() => state.session(bucket, session.id)).toThrow(/No such upload session/)
  })

  it('deletes a bucket only when it is empty', () => {
    const { state, bucket } = stateWithObject()
    expect(() => state.deleteBucket(bucket)).toThrow(/not empty/)
    expect(state.deleteObject('bkt', 'a.txt')).toBe(true)
    state.deleteBucket(bucket)
    expect(state.findBucket('bkt')).toBeUndefined()
  })
})
