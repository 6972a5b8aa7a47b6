import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as nodeZlib from 'node:zlib'
import { expectXComError, jsonRecords, randomBytes } from '@xcom/testing'
import { describe, expect, it } from 'vitest'
import { type CompressionCodec, gzip, isZstdAvailable, zip, zstd } from '../src/index.ts'
import { nativeZstd } from '../src/zstd.ts'
import { expectBytes, hasTool, pump, run, runsZstdFeed, tempDir, ZSTD_FEEDS } from './helpers.ts'

const dir = tempDir()
const values: Record<string, Uint8Array> = {
  empty: new Uint8Array(0),
  'JSON records': jsonRecords(300_000),
  'random bytes': randomBytes(200_000, 7),
}
const both = (make: (implementation: 'native' | 'portable') => CompressionCodec) =>
  [make('native'), make('portable')] as const
/** Every value with its label, compressed by `codec` whole and then streamed. */
async function* outputs(codec: CompressionCodec) {
  for (const [label, value] of Object.entries(values)) {
    yield { label, value, compressed: await codec.compress(value) }
    yield { label, value, compressed: await pump(codec.compressStream(), value, 10_000) }
  }
}
let fileNumber = 0
const file = (name: string, data?: Uint8Array): string => {
  const path = join(dir, `${fileNumber++}-${name}`)
  if (data !== undefined) writeFileSync(path, data)
  return path
}

describe.skipIf(!hasTool('gzip', 'gzip'))('gzip interop with gzip(1)', () => {
  for (const implementation of ['native', 'portable'] as const) {
    for (const level of [1, 6, 9]) {
      it(`gzip -t accepts ${implementation} level ${level} output, whole and streamed, and gzip -d restores it`, async () => {
        for await (const { label, value, compressed } of outputs(gzip({ implementation, level }))) {
          const path = file(`${label}.gz`, compressed)
          run('gzip', ['-t', path])
          expectBytes(run('gzip', ['-dc', path]), value)
        }
      })
    }

    it(`${implementation}: reads what gzip(1) writes, at every level, with a stored file name`, async () => {
      const [codec] = both((impl) => gzip({ implementation: impl })).filter(
        (c) => c.implementation === implementation,
      )
      for (const [label, value] of Object.entries(values)) {
        const path = file(`${label.replace(/ /g, '-')}.txt`, value)
        for (const level of ['-1', '-6', '-9']) {
          const compressed = run('gzip', [level, '-N', '-c', path])
          expect(compressed[3]! & 0x08).toBe(0x08) // FNAME is set
          expectBytes(await codec!.decompress(compressed), value)
          expectBytes(await pump(codec!.decompressStream(), compressed, 999), value)
        }
      }
    })

    it(`${implementation}: reads concatenated gzip members as their concatenation, as gunzip does`, async () => {
      const codec = gzip({ implementation })
      const a = jsonRecords(50_000, 1)
      const b = randomBytes(30_000, 2)
      const members = Buffer.concat([run('gzip', ['-c'], a), run('gzip', ['-c'], b), await codec.compress(a)])
      const expected = Buffer.concat([a, b, a])
      expectBytes(run('gzip', ['-dc'], members), expected)
      expectBytes(await codec.decompress(members), expected)
      expectBytes(await pump(codec.decompressStream(), members, 4096), expected)
    })
  }

  it('native and portable output are both valid gzip that the other implementation reads', async () => {
    const [native, portable] = both((implementation) => gzip({ implementation }))
    const value = values['JSON records']!
    expectBytes(await portable.decompress(await native.compress(value)), value)
    expectBytes(await native.decompress(await portable.compress(value)), value)
  })
})

describe.skipIf(!hasTool('unzip', 'unzip'))('zip interop with unzip(1)', () => {
  for (const implementation of ['native', 'portable'] as const) {
    it(`unzip -t accepts ${implementation} output, whole and streamed, and unzip -p restores it`, async () => {
      for await (const { label, value, compressed } of outputs(zip({ implementation }))) {
        const path = file(`${label}.zip`, compressed)
        run('unzip', ['-t', '-q', path]) // exits non-zero on any error; its wording varies between builds
        expectBytes(run('unzip', ['-p', path]), value)
      }
    })
  }

  it('names the entry as asked, in UTF-8', async () => {
    const codec = zip({ entryName: 'données/valeur.json' })
    const path = file('named.zip', await codec.compress(values['JSON records']!))
    expect(new TextDecoder().decode(run('unzip', ['-Z1', path])).trim()).toBe('données/valeur.json')
    expectBytes(run('unzip', ['-p', path, 'données/valeur.json']), values['JSON records']!)
  })
})

describe.skipIf(!hasTool('zip', 'zip'))('zip: reads archives made by zip(1) and Python', () => {
  const content = readFileSync(new URL('./fixtures/records.jsonl', import.meta.url))
  const source = file('records.jsonl', content)
  const codecs = both((implementation) => zip({ implementation }))
  const expectReads = async (archive: Uint8Array, expected: Uint8Array) => {
    for (const codec of codecs) {
      expectBytes(await codec.decompress(archive), expected)
      // Byte by byte costs a web-stream round per byte: on large archives an odd size still splits every header.
      const small = archive.byteLength <= 64 * 1024 ? 1 : 97
      expectBytes(await pump(codec.decompressStream(), archive, small), expected)
      expectBytes(await pump(codec.decompressStream(), archive, 1000), expected)
    }
  }

  it('deflated and stored entries with sizes in the local header', async () => {
    for (const flags of [[], ['-0'], ['-9']]) {
      const archive = file('made.zip')
      run('zip', ['-q', '-j', ...flags, archive, source])
      await expectReads(readFileSync(archive), content)
    }
  })

  it('Zip64 local headers (zip -fz, and zip reading standard input)', async () => {
    const forced = file('zip64.zip')
    run('zip', ['-q', '-j', '-fz', forced, source])
    await expectReads(readFileSync(forced), content)
    await expectReads(run('zip', ['-q', '-', '-'], content), content)
    // Written to a file, an archive of standard input also gets Zip64 end records before the end record.
    const large = new TextEncoder().encode(Buffer.from(randomBytes(150_000, 11)).toString('base64'))
    const input = file('large.txt', large)
    const output = file('stdin.zip')
    run('sh', ['-c', `zip -q - - < "${input}" > "${output}"`])
    const archive = readFileSync(output)
    expect(archive.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true)
    await expectReads(archive, large)
  })

  it('a streamed archive with Zip64 data descriptors (zip writing to a pipe)', async () => {
    const archive = run('sh', ['-c', `zip -q - - < "${source}" | cat`])
    expect(archive[6]! & 0x08).toBe(0x08)
    await expectReads(archive, content)
  })

  it('skips directory entries and reads the first file', async () => {
    const tree = file('tree')
    run('sh', ['-c', `mkdir -p "${tree}/dir" && cp "${source}" "${tree}/dir/value.jsonl"`])
    const archive = file('tree.zip')
    run('sh', ['-c', `cd "${tree}" && zip -q -r "${archive}" dir`])
    expect(new TextDecoder().decode(run('unzip', ['-Z1', archive])).split('\n')[0]).toBe('dir/')
    await expectReads(readFileSync(archive), content)
  })

  it('Python zipfile archives with data descriptors, stored and deflated (what Airflow writes)', async () => {
    for (const name of ['python-stored-descriptor.zip', 'python-deflated-descriptor.zip']) {
      await expectReads(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)), content)
    }
  })

  it('a stored entry containing a fake data descriptor signature is read to its real end', async () => {
    const archive = readFileSync(
      new URL('./fixtures/python-stored-descriptor-lookalike.zip', import.meta.url),
    )
    const expected = Buffer.concat([content, Buffer.from('PK\x07\x08'), Buffer.alloc(12), content])
    await expectReads(archive, expected)
  })

  it('refuses an archive with only a directory, or with no entry, with E_CORRUPT', async () => {
    const tree = file('only-dir')
    run('sh', ['-c', `mkdir -p "${tree}/empty"`])
    const archive = file('only-dir.zip')
    run('sh', ['-c', `cd "${tree}" && zip -q -r "${archive}" empty`])
    const emptyArchive = Uint8Array.of(0x50, 0x4b, 5, 6, ...new Array(18).fill(0))
    for (const codec of codecs) {
      await expectXComError(codec.decompress(readFileSync(archive)), 'E_CORRUPT')
      await expectXComError(codec.decompress(emptyArchive), 'E_CORRUPT')
    }
  })

  it('refuses encrypted entries and unsupported methods with E_UNKNOWN_CODEC', async () => {
    const encrypted = file('encrypted.zip')
    run('zip', ['-q', '-j', '-P', 'secret', encrypted, source])
    const bzip2 = file('bzip2.zip')
    const supportsBzip2 = new TextDecoder().decode(run('zip', ['-h2'])).includes('bzip2')
    if (supportsBzip2) run('zip', ['-q', '-j', '-Z', 'bzip2', bzip2, source])
    for (const codec of codecs) {
      const error = await expectXComError(codec.decompress(readFileSync(encrypted)), 'E_UNKNOWN_CODEC')
      expect(error.message).toContain('encrypted')
      if (supportsBzip2) {
        expect(
          (await expectXComError(codec.decompress(readFileSync(bzip2)), 'E_UNKNOWN_CODEC')).message,
        ).toContain('bzip2')
      }
      const method = (await codec.compress(content)).slice()
      method[8] = 14 // lzma
      expect((await expectXComError(codec.decompress(method), 'E_UNKNOWN_CODEC')).message).toContain('lzma')
    }
  })
})

describe.skipIf(!isZstdAvailable() || !hasTool('zstd', 'zstd'))('zstd interop with zstd(1)', () => {
  it('zstd -t accepts our output at several levels, whole and streamed, and zstd -d restores it', async () => {
    for (const level of [1, 3, 19]) {
      for await (const { label, value, compressed } of outputs(zstd({ level }))) {
        const path = file(`${label}.zst`, compressed)
        run('zstd', ['-q', '-t', path])
        expectBytes(run('zstd', ['-q', '-d', '-c', path]), value)
      }
    }
  })

  it('reads what zstd(1) writes: with and without checksum or content size', async () => {
    const codec = zstd()
    for (const value of Object.values(values)) {
      for (const flags of [['-3'], ['-19'], ['--no-check'], ['--no-content-size']]) {
        const compressed = run('zstd', ['-q', '-c', ...flags], value)
        expectBytes(await codec.decompress(compressed), value)
        expectBytes(await pump(codec.decompressStream(), compressed, 1000), value)
      }
    }
  })

  // Both ways of feeding frames to node:zlib, where this runtime has them, must give zstd(1)'s result.
  const skippable = (payload: string, variant = 0) => {
    const header = Buffer.alloc(8)
    header.writeUInt32LE(0x184d2a50 + variant, 0)
    header.writeUInt32LE(payload.length, 4)
    return Buffer.concat([header, Buffer.from(payload)])
  }
  /** What `zstd -d` makes of `data`: its output, or `undefined` when it fails. */
  const zstdDecode = (data: Uint8Array): Uint8Array | undefined => {
    const result = spawnSync('zstd', ['-q', '-d', '-c'], { input: data, maxBuffer: 1 << 30 })
    return result.status === 0 ? result.stdout : undefined
  }

  for (const feed of ZSTD_FEEDS) {
    it.skipIf(!runsZstdFeed(feed))(
      `${feed}: reads concatenated frames and skips skippable frames, as zstd -d does, whole and streamed`,
      async () => {
        const codec = nativeZstd(nodeZlib, 3, feed)
        const a = values['JSON records']!
        const b = values['random bytes']!
        const frames = [
          run('zstd', ['-q', '-c'], a),
          run('zstd', ['-q', '-c', '--no-check', '-19'], b),
          run('zstd', ['-q', '-c'], new Uint8Array(0)),
          await codec.compress(a),
        ]
        const expected = Buffer.concat([a, b, a])
        const inputs = [
          Buffer.concat(frames),
          Buffer.concat([
            skippable('index', 0xf),
            frames[0]!,
            skippable(''),
            frames[1]!,
            frames[3]!,
            skippable('x', 3),
          ]),
        ]
        for (const input of inputs) {
          expectBytes(zstdDecode(input)!, expected)
          expectBytes(await codec.decompress(input), expected)
          for (const chunk of [1000, frames[0]!.byteLength, frames[0]!.byteLength + 1, 65_536]) {
            expectBytes(await pump(codec.decompressStream(), input, chunk), expected)
          }
        }
        // Byte by byte, on small frames: every header and magic number split at every position.
        const small = Buffer.concat([
          skippable('ab'),
          run('zstd', ['-q', '-c'], a.subarray(0, 300)),
          frames[2]!,
        ])
        const smallExpected = zstdDecode(small)!
        expectBytes(smallExpected, a.subarray(0, 300))
        expectBytes(
          await pump(codec.decompressStream(), Buffer.concat([small, small]), 1),
          Buffer.concat([smallExpected, smallExpected]),
        )
        expect((await codec.decompress(skippable('only'))).byteLength).toBe(
          zstdDecode(skippable('only'))!.byteLength,
        )
      },
    )

    it.skipIf(!runsZstdFeed(feed))(
      `${feed}: refuses with E_CORRUPT what zstd -d refuses after a valid frame`,
      async () => {
        const codec = nativeZstd(nodeZlib, 3, feed)
        const frame = run('zstd', ['-q', '-c'], values['JSON records']!)
        const second = run('zstd', ['-q', '-c'], values['random bytes']!)
        const bad = [
          Buffer.concat([frame, Buffer.from('garbage!')]),
          Buffer.concat([frame, Buffer.alloc(16)]),
          Buffer.concat([frame, second.subarray(0, 3)]),
          Buffer.concat([frame, second.subarray(0, 100)]),
          Buffer.concat([frame, second.subarray(0, second.byteLength - 1)]),
          Buffer.concat([frame, skippable('index').subarray(0, 10)]),
          Buffer.concat([skippable('x'), Buffer.from('not zstd')]),
          new Uint8Array(0),
        ]
        for (const data of bad) {
          expect(zstdDecode(data)).toBeUndefined()
          await expectXComError(codec.decompress(data), 'E_CORRUPT')
          await expectXComError(pump(codec.decompressStream(), data, 1000), 'E_CORRUPT')
          await expectXComError(pump(codec.decompressStream(), data, frame.byteLength), 'E_CORRUPT')
        }
      },
    )

    it.skipIf(!runsZstdFeed(feed))(
      `${feed}: maxSize bounds the output of all frames together (E_TOO_LARGE)`,
      async () => {
        const codec = nativeZstd(nodeZlib, 3, feed)
        const value = values['JSON records']!
        const twoFrames = Buffer.concat([run('zstd', ['-q', '-c'], value), await codec.compress(value)])
        const total = value.byteLength * 2
        expectBytes(await codec.decompress(twoFrames, { maxSize: total }), Buffer.concat([value, value]))
        expect((await pump(codec.decompressStream({ maxSize: total }), twoFrames, 999)).byteLength).toBe(
          total,
        )
        await expectXComError(codec.decompress(twoFrames, { maxSize: total - 1 }), 'E_TOO_LARGE')
        await expectXComError(
          pump(codec.decompressStream({ maxSize: total - 1 }), twoFrames, 999),
          'E_TOO_LARGE',
        )
      },
    )
  }

  it('zstd() reads concatenated frames whatever this Node.js does natively', async () => {
    const value = values['JSON records']!
    const twoFrames = Buffer.concat([run('zstd', ['-q', '-c'], value), run('zstd', ['-q', '-c'], value)])
    expectBytes(await zstd().decompress(twoFrames), Buffer.concat([value, value]))
  })
})
