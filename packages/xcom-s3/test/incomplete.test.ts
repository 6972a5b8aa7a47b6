import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { expectXComError } from '@xcom/testing'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { S3ObjectStore } from '../src/index.ts'
import { describeOnAws, MiB, rawClient, serviceError, targetOrSkip, useS3rver } from './support.ts'

type Sent = { name: string; input: Record<string, unknown> }

/** A store whose client answers from `answer` instead of the network, and the commands it was sent. */
function stubbedStore(answer: (command: Sent) => unknown, prefix = 'xcom') {
  const client = new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  })
  const sent: Sent[] = []
  vi.spyOn(client, 'send').mockImplementation((async (command: {
    constructor: { name: string }
    input: object
  }) => {
    const call = { name: command.constructor.name, input: { ...command.input } as Record<string, unknown> }
    sent.push(call)
    const result = answer(call)
    if (result instanceof Error) throw result
    return result
  }) as unknown as S3Client['send'])
  return { store: new S3ObjectStore({ bucket: 'bucket', prefix, client }), sent }
}

const OLD = new Date('2026-01-01T00:00:00Z')
const CUTOFF = new Date('2026-01-02T00:00:00Z')
const NEW = new Date('2026-01-03T00:00:00Z')

describe('removeIncomplete with a stubbed client (ListMultipartUploads + AbortMultipartUpload)', () => {
  it('pages through the uploads under the prefix and aborts those initiated before the cutoff', async () => {
    const pages: Record<string, unknown> = {
      first: {
        IsTruncated: true,
        NextKeyMarker: 'xcom/b',
        NextUploadIdMarker: 'u2',
        Uploads: [
          { Key: 'xcom/a', UploadId: 'u1', Initiated: OLD },
          { Key: 'xcom/b', UploadId: 'u2', Initiated: NEW },
        ],
      },
      'xcom/b|u2': {
        IsTruncated: false,
        Uploads: [
          { Key: 'xcom/c/d', UploadId: 'u3', Initiated: OLD },
          { Key: 'xcom/gone', UploadId: 'u4', Initiated: OLD },
          { Key: 'xcom/denied', UploadId: 'u5', Initiated: OLD },
          { Key: 'xcom/unknown-age', UploadId: 'u6' },
          { Key: 'xcom-other/x', UploadId: 'u7', Initiated: OLD },
        ],
      },
    }
    const { store, sent } = stubbedStore(({ name, input }) => {
      if (name === 'ListMultipartUploadsCommand') {
        return pages[input.KeyMarker === undefined ? 'first' : `${input.KeyMarker}|${input.UploadIdMarker}`]
      }
      if (input.UploadId === 'u4') return serviceError('NoSuchUpload', 404)
      if (input.UploadId === 'u5') return serviceError('AccessDenied', 403)
      return {}
    })
    expect(await store.removeIncomplete(CUTOFF)).toEqual({
      removed: 2,
      failed: ['s3://bucket/xcom/denied?uploadId=u5'],
    })
    const lists = sent.filter(({ name }) => name === 'ListMultipartUploadsCommand').map(({ input }) => input)
    expect(lists).toEqual([
      { Bucket: 'bucket', Prefix: 'xcom/', MaxUploads: 1000 },
      { Bucket: 'bucket', Prefix: 'xcom/', KeyMarker: 'xcom/b', UploadIdMarker: 'u2', MaxUploads: 1000 },
    ])
    const aborted = sent
      .filter(({ name }) => name === 'AbortMultipartUploadCommand')
      .map(({ input }) => input)
    expect(aborted).toEqual([
      { Bucket: 'bucket', Key: 'xcom/a', UploadId: 'u1' },
      { Bucket: 'bucket', Key: 'xcom/c/d', UploadId: 'u3' },
      { Bucket: 'bucket', Key: 'xcom/gone', UploadId: 'u4' },
      { Bucket: 'bucket', Key: 'xcom/denied', UploadId: 'u5' },
    ])
  })

  it('lists the whole bucket for a store at the bucket root, and stops on a truncated page without markers', async () => {
    const { store, sent } = stubbedStore(
      ({ name }) =>
        name === 'ListMultipartUploadsCommand'
          ? { IsTruncated: true, Uploads: [{ Key: 'a', UploadId: 'u1', Initiated: OLD }] }
          : {},
      '',
    )
    expect(await store.removeIncomplete(CUTOFF)).toEqual({ removed: 1, failed: [] })
    expect(sent.map(({ name }) => name)).toEqual([
      'ListMultipartUploadsCommand',
      'AbortMultipartUploadCommand',
    ])
    expect(sent[0]?.input.Prefix).toBeUndefined()
  })

  it('a listing refused for lack of permission fails with E_PERMISSION_DENIED naming the store', async () => {
    const { store } = stubbedStore(() => serviceError('AccessDenied', 403))
    const error = await expectXComError(store.removeIncomplete(CUTOFF), 'E_PERMISSION_DENIED')
    expect(error.message).toContain('Listing unfinished multipart uploads under s3://bucket/xcom')
  })

  it('an endpoint without ListMultipartUploads reports nothing and warns once per store', async () => {
    const { store } = stubbedStore(() => serviceError('NotImplemented', 501))
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      expect(await store.removeIncomplete(CUTOFF)).toEqual({ removed: 0, failed: [] })
      expect(await store.removeIncomplete(CUTOFF)).toEqual({ removed: 0, failed: [] })
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings).toHaveLength(1)
    expect((warnings[0] as Error & { code?: string }).code).toBe('XCOM_S3_NO_UPLOAD_LISTING')
    expect(warnings[0]?.message).toContain('does not implement ListMultipartUploads')
    expect(warnings[0]?.message).toContain('s3://bucket/xcom')
  })
})

describe('removeIncomplete against s3rver', () => {
  const getTarget = useS3rver()

  it('s3rver has neither ListMultipartUploads (NotImplemented) nor AbortMultipartUpload (MethodNotAllowed)', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    const client = rawClient(target)
    const Bucket = target.options.bucket
    const Key = `${target.options.prefix}/unfinished/k`
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }))
    await client.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: new Uint8Array(5 * MiB) }),
    )
    await expect(client.send(new ListMultipartUploadsCommand({ Bucket }))).rejects.toMatchObject({
      name: 'NotImplemented',
    })
    await expect(
      client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })),
    ).rejects.toMatchObject({
      name: 'MethodNotAllowed',
    })
    client.destroy()
  })

  it('reports nothing removed and nothing failed, with one warning saying why', async (ctx) => {
    const target = targetOrSkip(getTarget, ctx)
    const store = new S3ObjectStore(target.options)
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      expect(await store.removeIncomplete(new Date())).toEqual({ removed: 0, failed: [] })
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
      await store.close()
    }
    expect(warnings.map((warning) => (warning as Error & { code?: string }).code)).toEqual([
      'XCOM_S3_NO_UPLOAD_LISTING',
    ])
  })
})

describeOnAws('removeIncomplete', (target) => {
  let store: S3ObjectStore | undefined
  afterAll(async () => {
    await store?.removeIncomplete(new Date(Date.now() + 3_600_000))
    await store?.close()
  })

  it('aborts an unfinished upload started before the cutoff and keeps a newer one', async () => {
    store = new S3ObjectStore(target.options)
    const s3 = store
    const Bucket = s3.bucket
    const start = async (name: string) => {
      const Key = `${s3.prefix}/unfinished/${name}`
      const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket, Key }))
      await s3.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: new Uint8Array(5 * MiB) }),
      )
      const listed = await s3.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: Key }))
      const upload = listed.Uploads?.find((candidate) => candidate.UploadId === UploadId)
      return { Key, UploadId, initiated: upload?.Initiated as Date }
    }
    const old = await start('old')
    // S3 records initiation times to the millisecond: 1.5 s apart, a cutoff between them is unambiguous.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const recent = await start('recent')
    const cutoff = new Date(old.initiated.getTime() + 750)
    expect(recent.initiated.getTime()).toBeGreaterThan(cutoff.getTime())
    const report = await s3.removeIncomplete(cutoff)
    expect(report.failed).toEqual([])
    expect(report.removed).toBeGreaterThanOrEqual(1)
    await expect(
      s3.client.send(new ListPartsCommand({ Bucket, Key: old.Key, UploadId: old.UploadId })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' })
    const parts = await s3.client.send(
      new ListPartsCommand({ Bucket, Key: recent.Key, UploadId: recent.UploadId }),
    )
    expect(parts.Parts).toHaveLength(1)
  }, 60_000)
})
