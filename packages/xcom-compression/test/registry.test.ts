import * as nodeZlib from 'node:zlib'
import { XComError } from '@xcom/core'
import { expectXComError, jsonRecords } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import {
  CODEC_NAMES,
  codecByName,
  codecForSuffix,
  deflate,
  detectCodec,
  gzip,
  isZstdAvailable,
  none,
  zip,
  zlib,
  zstd,
} from '../src/index.ts'
import { hasZstd } from '../src/runtime.ts'
import { expectBytes } from './helpers.ts'

const thrown = (run: () => unknown): unknown => {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}
const codeOf = (run: () => unknown) => {
  const error = thrown(run)
  return XComError.is(error) ? error.code : error
}

describe('codecByName', () => {
  it('builds every known codec, whatever the case and surrounding spaces', () => {
    const expected: Record<string, [string, string]> = {
      gzip: ['gzip', '.gz'],
      deflate: ['deflate', '.zz'],
      zlib: ['deflate', '.zz'],
      zip: ['zip', '.zip'],
      zstd: ['zstd', '.zst'],
      none: ['none', ''],
    }
    expect([...CODEC_NAMES].sort()).toEqual(Object.keys(expected).sort())
    for (const [name, [codecName, suffix]] of Object.entries(expected)) {
      for (const spelling of [name, name.toUpperCase(), ` ${name} `]) {
        const codec = codecByName(spelling)
        expect([codec.name, codec.suffix]).toEqual([codecName, suffix])
      }
    }
    expect(codecByName('').name).toBe('none')
  })

  it('passes options on: level and implementation', async () => {
    const value = jsonRecords(100_000)
    const fast = codecByName('gzip', { level: 1 })
    const small = codecByName('gzip', { level: 9, implementation: 'portable' })
    expect(small.implementation).toBe('portable')
    expect((await small.compress(value)).byteLength).toBeLessThan((await fast.compress(value)).byteLength)
  })

  it('refuses an unknown name with E_UNKNOWN_CODEC, listing the known ones', () => {
    for (const name of ['bz2', 'brotli', 'gzip2', 'lz4']) {
      const error = thrown(() => codecByName(name)) as XComError
      expect(error.code).toBe('E_UNKNOWN_CODEC')
      for (const known of CODEC_NAMES) expect(error.message).toContain(known)
    }
    expect((thrown(() => codecByName('bz2')) as Error).message).toContain('bzip2 is not implemented')
  })
})

describe('codecForSuffix', () => {
  it('maps suffixes, bare or dotted, and whole object keys', () => {
    const cases: Record<string, string> = {
      '.gz': 'gzip',
      gz: 'gzip',
      'xcom/etl/run/task/-1/return_value/0193.json.gz': 'gzip',
      '.ZIP': 'zip',
      'value.zst': 'zstd',
      'value.json.zz': 'deflate',
    }
    for (const [text, name] of Object.entries(cases)) expect(codecForSuffix(text)?.name).toBe(name)
  })

  it('returns undefined when the last suffix names no compression', () => {
    for (const text of ['value.json', 'value', '', '.json', 'dir.gz/value'])
      expect(codecForSuffix(text)).toBeUndefined()
  })

  it('refuses the suffix of a known but unsupported format with E_UNKNOWN_CODEC', () => {
    for (const text of ['value.bz2', '.xz', 'a.lz4', 'b.br'])
      expect(codeOf(() => codecForSuffix(text))).toBe('E_UNKNOWN_CODEC')
  })
})

describe('detectCodec', () => {
  const value = jsonRecords(10_000)

  it('recognises the output of every codec by its magic bytes, and the detected codec reads it', async () => {
    const zstds = isZstdAvailable() ? [zstd()] : []
    for (const codec of [gzip(), deflate(), zip(), ...zstds, gzip({ level: 0 }), deflate({ level: 9 })]) {
      const compressed = await codec.compress(value)
      const detected = detectCodec(compressed.subarray(0, 16))
      expect(detected?.name).toBe(codec.name)
      expectBytes(await detected!.decompress(compressed), value)
    }
    expect(detectCodec(await zip().compress(new Uint8Array(0)))?.name).toBe('zip')
  })

  it('returns undefined for uncompressed data', () => {
    for (const text of ['', '{"a":1}', '[1,2]', 'hello', 'x']) {
      expect(detectCodec(new TextEncoder().encode(text))).toBeUndefined()
    }
    expect(detectCodec(Uint8Array.of(0x1f))).toBeUndefined()
  })

  it('refuses bzip2, xz and lz4 data with E_UNKNOWN_CODEC', () => {
    const magics = [
      new TextEncoder().encode('BZh91AY&SY'),
      Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 4),
      Uint8Array.of(0x04, 0x22, 0x4d, 0x18, 0x64, 0x40),
    ]
    for (const magic of magics) expect(codeOf(() => detectCodec(magic))).toBe('E_UNKNOWN_CODEC')
  })
})

describe('codec options', () => {
  it('refuses bad levels, implementations and entry names with E_CONFIG', () => {
    const bad = [
      () => gzip({ level: 10 }),
      () => gzip({ level: -1 }),
      () => gzip({ level: 1.5 }),
      () => deflate({ level: Number.NaN }),
      () => zip({ level: 12 }),
      () => zstd({ level: 0 }),
      () => zstd({ level: 23 }),
      () => gzip({ implementation: 'fast' as 'auto' }),
      () => zip({ entryName: '' }),
      () => zip({ entryName: 'folder/' }),
      () => zip({ entryName: 'x'.repeat(70_000) }),
    ]
    for (const make of bad) expect(codeOf(make)).toBe('E_CONFIG')
  })

  it('runs natively by default here, and portably when asked', () => {
    const zstds = isZstdAvailable() ? [zstd()] : []
    expect([gzip(), deflate(), zip(), ...zstds].map((codec) => codec.implementation)).toEqual(
      Array(3 + zstds.length).fill('native'),
    )
    expect(gzip({ implementation: 'native' }).implementation).toBe('native')
    expect([gzip, deflate, zip].map((make) => make({ implementation: 'portable' }).implementation)).toEqual(
      Array(3).fill('portable'),
    )
    expect(zlib().name).toBe('deflate')
    expect(none().implementation).toBe('portable')
  })

  it('zstd without a native zstd fails with E_UNKNOWN_CODEC saying which Node.js is needed', () => {
    const error = thrown(() => zstd({ implementation: 'portable' })) as XComError
    expect(error.code).toBe('E_UNKNOWN_CODEC')
    expect(error.message).toContain('Node.js >= 22.15')
    expect(error.message).toContain(process.versions.node)
    expect(isZstdAvailable()).toBe(typeof nodeZlib.createZstdDecompress === 'function')
    expect(hasZstd(undefined)).toBe(false)
    // A node:zlib from before zstd (Node.js 22.14): gzip functions only.
    expect(hasZstd({ createGzip: () => undefined } as unknown as Parameters<typeof hasZstd>[0])).toBe(false)
  })

  it('refuses a negative or non-numeric maxSize with E_CONFIG', async () => {
    const codec = gzip()
    const data = await codec.compress(Uint8Array.of(1, 2, 3))
    await expectXComError(codec.decompress(data, { maxSize: -1 }), 'E_CONFIG')
    await expectXComError(codec.decompress(data, { maxSize: Number.NaN }), 'E_CONFIG')
    expect(codeOf(() => codec.decompressStream({ maxSize: '10' as unknown as number }))).toBe('E_CONFIG')
  })

  it('refuses data that is not bytes with E_CONFIG, whole and streamed, naming what it got', async () => {
    for (const codec of [gzip(), zip({ implementation: 'portable' }), none()]) {
      const error = await expectXComError(codec.compress('text' as unknown as Uint8Array), 'E_CONFIG')
      expect(error.message).toContain('string')
      await expectXComError(codec.decompress({} as unknown as Uint8Array), 'E_CONFIG')
      const stream = codec.compressStream()
      const writer = stream.writable.getWriter()
      await expectXComError(writer.write(42 as unknown as Uint8Array), 'E_CONFIG')
      await expectXComError(stream.readable.getReader().read(), 'E_CONFIG')
    }
  })

  it('accepts Node Buffers and other typed-array views, and returns plain Uint8Arrays', async () => {
    const value = jsonRecords(5000)
    for (const codec of [gzip(), gzip({ implementation: 'portable' })]) {
      const compressed = await codec.compress(Buffer.from(value))
      expect(compressed.constructor).toBe(Uint8Array)
      const view = new DataView(compressed.buffer, compressed.byteOffset, compressed.byteLength)
      const restored = await codec.decompress(view as unknown as Uint8Array)
      expect(restored.constructor).toBe(Uint8Array)
      expectBytes(restored, value)
    }
  })

  it('names the object in errors when given its uri', async () => {
    const error = await expectXComError(
      gzip().decompress(Uint8Array.of(1, 2, 3), { uri: 's3://conn@bucket/xcom/a.json.gz' }),
      'E_CORRUPT',
    )
    expect(error.uri).toBe('s3://conn@bucket/xcom/a.json.gz')
    expect(error.message).toContain('s3://conn@bucket/xcom/a.json.gz')
    const tooLarge = await expectXComError(
      zip().decompress(await zip().compress(new Uint8Array(100)), { maxSize: 10, uri: 'file:///tmp/x.zip' }),
      'E_TOO_LARGE',
    )
    expect(tooLarge.message).toContain('file:///tmp/x.zip')
  })
})
