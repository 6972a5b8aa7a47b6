import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SpanStatusCode } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import { gzip } from '@xcom/compression'
import { MemoryMetadataStore, type ObjectStore, XCom, type XComRecord } from '@xcom/core'
import { captureLogger, recordedText, recordTelemetry } from '@xcom/test-services'
import { expectXComError, randomBytes } from '@xcom/testing'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  FileObjectStore,
  MemoryObjectStore,
  type ObjectReference,
  ObjectStoreXComBackend,
  type ObjectStoreXComBackendOptions,
  ReplicatedObjectStore,
} from '../src/index.ts'
import { tempDir } from './helpers.ts'

const recording = recordTelemetry()
const { spans } = recording
afterAll(() => {
  recording.stop()
})
afterEach(() => {
  spans.reset()
})

const ID = { dagId: 'etl', runId: 'r1', taskId: 'extract' }
const XCOM_NAME = 'etl/r1/extract/return_value'

/** An XCom on `options.store` recording into the in-memory exporter, a fresh meter and a list of log lines. */
function recorded(options: Partial<ObjectStoreXComBackendOptions> & { store: ObjectStore }) {
  const { meter, counter } = recording.meter()
  const { lines: logs, logger } = captureLogger()
  const xcom = new XCom({
    metadata: new MemoryMetadataStore(),
    backend: new ObjectStoreXComBackend({ threshold: 1024, ...options }),
    telemetry: { tracer: recording.tracer, meter },
    logger,
    logLevel: 'debug',
  })
  return { xcom, logs, counter }
}

/** The finished spans by name (the first of each), and the names of each span's children in order. */
function tree() {
  const finished = spans.getFinishedSpans()
  const childrenOf = (parent: ReadableSpan | undefined) =>
    finished
      .filter((span) => span.parentSpanContext?.spanId === parent?.spanContext().spanId)
      .map((span) => span.name)
  const named = (name: string) => finished.find((span) => span.name === name)
  return { finished, childrenOf, named }
}

const refOf = (record: XComRecord) => (record.value as unknown as { ref: ObjectReference }).ref

/** A large JSON value that compresses well. */
const rows = Array.from({ length: 2000 }, (_, index) => ({ id: index, status: 'shipped', region: 'emea' }))

describe('spans of an offloaded value', () => {
  it('nests serialize, compress and upload under push, and download, decompress and deserialize under pull', async () => {
    const { xcom, logs, counter } = recorded({
      store: new FileObjectStore({ root: tempDir() }),
      compression: gzip(),
    })
    const record = await xcom.push(ID, rows)
    expect(await xcom.pull(ID)).toEqual(rows)
    const ref = refOf(record)
    const { childrenOf, named } = tree()
    expect(childrenOf(named('xcom.push'))).toEqual(['xcom.serialize', 'xcom.compress', 'xcom.upload'])
    expect(childrenOf(named('xcom.pull'))).toEqual(['xcom.download', 'xcom.decompress', 'xcom.deserialize'])
    expect(named('xcom.serialize')?.attributes).toEqual({
      'xcom.value.size': ref.size,
      'xcom.value.format': 'json',
    })
    expect(named('xcom.compress')?.attributes).toEqual({
      'xcom.codec': 'gzip',
      'xcom.value.size': ref.size,
      'xcom.compression.output_size': ref.storedSize,
      'xcom.value.stored_size': ref.storedSize,
      'xcom.compression.skipped': false,
    })
    const upload = named('xcom.upload')
    expect(upload?.kind).toBe(2) // CLIENT: a call to the store
    expect(upload?.attributes).toEqual({
      'xcom.storage.scheme': 'file',
      'xcom.object.key': ref.objectKey,
      'xcom.value.format': 'json',
      'xcom.codec': 'gzip',
      'xcom.checksum.algorithm': 'crc32',
      'xcom.upload.streamed': false,
      'xcom.value.size': ref.size,
      'xcom.value.stored_size': ref.storedSize,
    })
    expect(named('xcom.download')?.kind).toBe(2)
    expect(named('xcom.download')?.attributes).toEqual({
      'xcom.storage.scheme': 'file',
      'xcom.object.key': ref.objectKey,
      'xcom.value.stored_size': ref.storedSize,
      'xcom.checksum.algorithm': 'crc32',
    })
    expect(named('xcom.decompress')?.attributes).toMatchObject({
      'xcom.codec': 'gzip',
      'xcom.value.size': ref.size,
    })
    expect(await counter('xcom.compression.saved')).toBe(ref.size - ref.storedSize)
    const offloaded = logs.find((log) => log.message.includes('offloaded'))
    expect(offloaded).toMatchObject({
      level: 'debug',
      fields: { xcom: XCOM_NAME, uri: ref.uri, codec: 'gzip' },
    })
    expect(offloaded?.message).toContain(XCOM_NAME)
  })

  it('says when adaptive compression skipped the codec, in the compress span and a debug line', async () => {
    const { xcom, logs, counter } = recorded({ store: new MemoryObjectStore(), compression: gzip() })
    const record = await xcom.push(ID, randomBytes(64 * 1024))
    const { named, childrenOf } = tree()
    expect(childrenOf(named('xcom.push'))).toEqual(['xcom.compress', 'xcom.upload'])
    expect(named('xcom.compress')?.attributes).toMatchObject({
      'xcom.codec': 'gzip',
      'xcom.compression.skipped': true,
      'xcom.value.stored_size': 64 * 1024,
    })
    expect(named('xcom.upload')?.attributes).toMatchObject({
      'xcom.storage.scheme': 'memory',
      'xcom.storage.bucket': 'default',
      'xcom.codec': 'none',
      'xcom.compression.skipped': true,
    })
    expect(refOf(record).codec).toBe('none')
    expect(await counter('xcom.compression.saved')).toBe(0)
    const skipped = logs.find((log) => log.message.includes('skipped'))
    expect(skipped).toMatchObject({
      level: 'debug',
      fields: { xcom: XCOM_NAME, codec: 'gzip', size: 64 * 1024 },
    })
    expect(skipped?.message).toContain(XCOM_NAME)
  })

  it('records a tampered object as E_CORRUPT on the download span and counts a checksum failure', async () => {
    const root = tempDir()
    const { xcom, counter } = recorded({ store: new FileObjectStore({ root }) })
    const record = await xcom.push(ID, rows)
    const text = JSON.stringify(rows)
    writeFileSync(join(root, refOf(record).objectKey), text.replace('shipped', 'SHIPPED'))
    spans.reset()
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    const { childrenOf, named } = tree()
    expect(childrenOf(named('xcom.pull'))).toEqual(['xcom.download'])
    const download = named('xcom.download')
    expect(download?.status.code).toBe(SpanStatusCode.ERROR)
    expect(download?.attributes['error.type']).toBe('E_CORRUPT')
    expect(named('xcom.pull')?.attributes['error.type']).toBe('E_CORRUPT')
    expect(await counter('xcom.checksum.failures')).toBe(1)
  })

  it('does not count a missing object as a checksum failure', async () => {
    const store = new MemoryObjectStore()
    const { xcom, counter } = recorded({ store })
    const record = await xcom.push(ID, rows)
    await store.deleteMany([refOf(record).objectKey])
    await expectXComError(xcom.pull(ID), 'E_NOT_FOUND')
    expect(tree().named('xcom.download')?.attributes['error.type']).toBe('E_NOT_FOUND')
    expect(await counter('xcom.checksum.failures')).toBe(0)
  })

  it('warns naming the XCom when a read falls back to the next replica, with one download span per replica', async () => {
    const [first, second] = [
      new MemoryObjectStore({ bucket: 'first' }),
      new MemoryObjectStore({ bucket: 'second' }),
    ]
    const { xcom, logs } = recorded({ store: new ReplicatedObjectStore([first, second]) })
    const record = await xcom.push(ID, rows)
    await first.deleteMany([refOf(record).objectKey])
    spans.reset()
    expect(await xcom.pull(ID)).toEqual(rows)
    const { finished } = tree()
    const downloads = finished.filter((span) => span.name === 'xcom.download')
    expect(downloads.map((span) => [span.attributes['xcom.storage.bucket'], span.status.code])).toEqual([
      ['first', SpanStatusCode.ERROR],
      ['second', SpanStatusCode.UNSET],
    ])
    const warning = logs.find((log) => log.level === 'warn')
    expect(warning?.message).toContain(XCOM_NAME)
    expect(warning?.fields).toMatchObject({ xcom: XCOM_NAME, code: 'E_NOT_FOUND', next: 'memory://second' })
  })
})

describe('spans of streamed values', () => {
  /** `size` compressible bytes as a web stream of 64 KiB chunks. */
  const stream = (size: number) => {
    const chunk = new TextEncoder().encode('abcdefgh'.repeat(8 * 1024))
    let left = size
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (left <= 0) return controller.close()
        controller.enqueue(chunk.subarray(0, Math.min(left, chunk.byteLength)))
        left -= chunk.byteLength
      },
    })
  }

  it('records one upload span that compresses as it writes (no compress span), and a pull without deserialize', async () => {
    const { xcom, counter } = recorded({ store: new MemoryObjectStore(), compression: gzip() })
    const size = 3 * 1024 * 1024
    const record = await xcom.push(ID, stream(size))
    expect((await xcom.pull<Uint8Array>(ID)).byteLength).toBe(size)
    const ref = refOf(record)
    const { childrenOf, named } = tree()
    expect(childrenOf(named('xcom.push'))).toEqual(['xcom.upload'])
    expect(named('xcom.upload')?.attributes).toMatchObject({
      'xcom.codec': 'gzip',
      'xcom.upload.streamed': true,
      'xcom.value.format': 'bytes',
      'xcom.value.size': size,
      'xcom.value.stored_size': ref.storedSize,
    })
    expect(childrenOf(named('xcom.pull'))).toEqual(['xcom.download', 'xcom.decompress'])
    expect(await counter('xcom.compression.saved')).toBe(size - ref.storedSize)
  })

  it('says when the sample of an async iterable did not compress enough', async () => {
    const { xcom, logs } = recorded({ store: new MemoryObjectStore(), compression: gzip() })
    async function* chunks() {
      for (let seed = 1; seed <= 24; seed++) yield randomBytes(128 * 1024, seed)
    }
    await xcom.push(ID, chunks())
    const { named } = tree()
    expect(named('xcom.upload')?.attributes).toMatchObject({
      'xcom.codec': 'none',
      'xcom.compression.skipped': true,
      'xcom.upload.streamed': true,
    })
    expect(logs.find((log) => log.message.includes('skipped'))?.fields).toMatchObject({
      xcom: XCOM_NAME,
      codec: 'gzip',
    })
  })
})

describe('secrets', () => {
  it('puts no value and no credential of the store URL in any attribute or log line', async () => {
    const secrets = ['TOP-SECRET-VALUE', 'hunter2']
    const store = new MemoryObjectStore({ bucket: 'key:hunter2@bucket' })
    const { xcom, logs } = recorded({ store, compression: gzip() })
    const value = Array.from({ length: 500 }, () => ({ token: 'TOP-SECRET-VALUE' }))
    const record = await xcom.push(ID, value)
    const bytes = refOf(await xcom.push(ID, randomBytes(8 * 1024))).objectKey
    await store.deleteMany([refOf(record).objectKey])
    await store.put(bytes, randomBytes(8 * 1024, 2))
    await expectXComError(xcom.pull(ID), 'E_CORRUPT')
    await xcom.gc({ graceMs: 0 })
    expect(tree().named('xcom.upload')?.attributes['xcom.storage.bucket']).toBe('bucket')
    const text = recordedText(tree().finished, logs)
    expect(store.url).toContain('hunter2')
    expect(text).toContain('E_CORRUPT')
    expect(text).toContain('offloaded to memory://')
    for (const secret of secrets) expect(text).not.toContain(secret)
  })
})

describe('logs of the sweep', () => {
  it('sums up a sweep at info', async () => {
    const { xcom, logs } = recorded({ store: new MemoryObjectStore() })
    await xcom.push(ID, rows)
    await xcom.clear({ dagId: 'etl', runId: 'r1' })
    await xcom.gc({ graceMs: 0 })
    const summary = logs.find((log) => log.message.startsWith('Swept'))
    expect(summary).toMatchObject({
      level: 'info',
      fields: { uri: 'memory://default', scanned: 0, deleted: 0 },
    })
  })
})
