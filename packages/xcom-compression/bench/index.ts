// Throughput of every codec against node:zlib's own gzip at the same level, in the same process, on ~30 MB of JSON
// records and on 64 MiB of random bytes, on the sources: `pnpm bench`, that is
// node --conditions=@xcom/source --expose-gc bench/index.ts
// Each figure is the best of several runs, baseline and candidate alternating, in MB/s of uncompressed data.
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { readChunks, toReadableStream } from '@xcom/core/adapter'
import { randomBytes } from '@xcom/testing'
import { type CompressionCodec, deflate, gzip, zip, zstd } from '../src/index.ts'

const MB = 1e6
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const CHUNK = 64 * 1024
const gzipAsync = promisify(zlib.gzip)
const gunzipAsync = promisify(zlib.gunzip)

/** XCom-like rows (richer than `@xcom/testing`'s jsonRecords, so the ratios are those of real values). */
function jsonRecords(size: number): Uint8Array {
  const rows: string[] = []
  let length = 2
  for (let i = 0; length < size; i++) {
    const row = JSON.stringify({
      dagId: 'etl_daily',
      runId: `scheduled__2024-06-${String((i % 28) + 1).padStart(2, '0')}T00:00:00+00:00`,
      taskId: `transform_${i % 17}`,
      mapIndex: i % 5 === 0 ? -1 : i % 64,
      value: {
        id: i,
        score: Math.round(Math.sin(i) * 1e6) / 1e3,
        tags: ['a', 'b', String(i % 11)],
        ok: i % 3 > 0,
      },
    })
    rows.push(row)
    length += row.length + 1
  }
  return new TextEncoder().encode(`[${rows.join(',')}]`)
}

const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {})

/** Seconds one run of `task` takes. */
async function time(task: () => Promise<unknown>): Promise<number> {
  collectGarbage()
  const start = process.hrtime.bigint()
  await task()
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** Best time of baseline and candidate, measured alternately. */
async function race(
  baseline: () => Promise<unknown>,
  candidate: () => Promise<unknown>,
): Promise<[number, number]> {
  let best: [number, number] = [Infinity, Infinity]
  for (let run = 0; run < RUNS; run++) {
    best = [Math.min(best[0], await time(baseline)), Math.min(best[1], await time(candidate))]
  }
  return best
}

function chunks(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let offset = 0; offset < data.byteLength; offset += CHUNK)
    out.push(data.subarray(offset, offset + CHUNK))
  return out
}

/** Pushes `data` through a web transform in 64 KiB chunks; resolves with the output size. */
async function webStream(
  transform: TransformStream<Uint8Array, Uint8Array>,
  data: Uint8Array,
): Promise<number> {
  let size = 0
  for await (const chunk of readChunks(toReadableStream(chunks(data)).pipeThrough(transform))) {
    size += chunk.byteLength
  }
  return size
}

/** The same through node:zlib's own stream. */
async function nodeStream(engine: zlib.Gzip | zlib.Gunzip, data: Uint8Array): Promise<number> {
  let size = 0
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.byteLength
      done()
    },
  })
  await pipeline(Readable.from(chunks(data)), engine, sink)
  return size
}

/** A way of using a codec, and node:zlib's gzip used the same way as the baseline. */
interface Way {
  /** Added to the codec's label. */
  label: string
  nodeCompress(data: Uint8Array, level: number): Promise<unknown>
  nodeDecompress(compressed: Uint8Array): Promise<unknown>
  compress(codec: CompressionCodec, data: Uint8Array): Promise<unknown>
  decompress(codec: CompressionCodec, compressed: Uint8Array): Promise<unknown>
}

const WHOLE: Way = {
  label: '',
  nodeCompress: (data, level) => gzipAsync(data, { level }),
  nodeDecompress: (compressed) => gunzipAsync(compressed),
  compress: (codec, data) => codec.compress(data),
  decompress: (codec, compressed) => codec.decompress(compressed),
}

const STREAMED: Way = {
  label: ', streamed',
  nodeCompress: (data, level) => nodeStream(zlib.createGzip({ level }), data),
  nodeDecompress: (compressed) => nodeStream(zlib.createGunzip(), compressed),
  compress: (codec, data) => webStream(codec.compressStream(), data),
  decompress: (codec, compressed) => webStream(codec.decompressStream(), compressed),
}

interface Row {
  codec: string
  data: string
  ratio: number
  compress: number
  compressVsNode: number
  decompress: number
  decompressVsNode: number
}

async function measure(
  label: string,
  codec: CompressionCodec,
  data: Uint8Array,
  dataLabel: string,
  level: number,
  way = WHOLE,
) {
  const compressed = await codec.compress(data)
  const nodeCompressed = await gzipAsync(data, { level })
  const mbps = (seconds: number) => data.byteLength / MB / seconds
  const [nodeC, ourC] = await race(
    () => way.nodeCompress(data, level),
    () => way.compress(codec, data),
  )
  const [nodeD, ourD] = await race(
    () => way.nodeDecompress(nodeCompressed),
    () => way.decompress(codec, compressed),
  )
  print({
    codec: `${label}${way.label}`,
    data: dataLabel,
    ratio: compressed.byteLength / data.byteLength,
    compress: mbps(ourC),
    compressVsNode: nodeC / ourC,
    decompress: mbps(ourD),
    decompressVsNode: nodeD / ourD,
  })
}

const widths = [34, 12, 7, 14, 10, 16, 10]
function line(cells: string[]): string {
  return `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`
}
function print(row: Row): void {
  console.log(
    line([
      row.codec,
      row.data,
      row.ratio.toFixed(3),
      row.compress.toFixed(1),
      `${row.compressVsNode.toFixed(2)}x`,
      row.decompress.toFixed(1),
      `${row.decompressVsNode.toFixed(2)}x`,
    ]),
  )
}

const datasets: [string, Uint8Array][] = [
  ['JSON 30 MB', jsonRecords(30 * MB)],
  ['random 64MiB', randomBytes(64 * 1024 * 1024, 0x9e3779b9)],
]
console.log(
  `Node.js ${process.versions.node}, zlib ${process.versions.zlib}; best of ${RUNS} runs; MB/s of input.`,
)
console.log(
  'Baseline (x columns): node:zlib gzip()/gunzip() at the same level (level 6 for zip, deflate; 6 for zstd).',
)
console.log(line(['codec', 'data', 'size', 'compress MB/s', 'vs node', 'decompress MB/s', 'vs node']))
console.log(line(widths.map((width) => '-'.repeat(width))))
for (const [label, data] of datasets) {
  for (const level of [1, 6]) {
    await measure(`gzip level ${level} (native)`, gzip({ level }), data, label, level)
    await measure(`gzip level ${level} (native)`, gzip({ level }), data, label, level, STREAMED)
    await measure(
      `gzip level ${level} (portable)`,
      gzip({ level, implementation: 'portable' }),
      data,
      label,
      level,
    )
  }
  await measure('deflate level 6 (native)', deflate(), data, label, 6)
  await measure('deflate level 6 (portable)', deflate({ implementation: 'portable' }), data, label, 6)
  await measure('zip level 6 (native)', zip(), data, label, 6)
  await measure('zip level 6 (portable)', zip({ implementation: 'portable' }), data, label, 6)
  await measure('zstd level 3', zstd(), data, label, 6)
}
