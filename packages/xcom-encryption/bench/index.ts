// Throughput of aesGcmStream (whole-buffer and streaming forms) against one-shot node:crypto AES-256-GCM of the same
// buffer, in the same process, and the RSS growth of streaming 1 GiB through encryptStream -> decryptStream:
// `pnpm --filter @xcom/encryption bench`, that is node --conditions=@xcom/source --expose-gc bench/index.ts
// Each figure is the median of several rounds, baseline and candidates alternating; MiB/s of plaintext, each round
// encrypting and then decrypting. BENCH_RUNS, BENCH_MIB and BENCH_SEGMENT change the rounds, size and segment size.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { aesGcmStream, DEFAULT_SEGMENT_SIZE, staticKeys } from '../src/index.ts'

const MiB = 1024 * 1024
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const SIZE = Number(process.env.BENCH_MIB ?? 256) * MiB
const SEGMENT = Number(process.env.BENCH_SEGMENT ?? DEFAULT_SEGMENT_SIZE)
const CHUNK = MiB
const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => {})

const material = randomBytes(32)
const encryption = aesGcmStream({ keys: staticKeys([{ id: 'bench', material }]), segmentSize: SEGMENT })
const binding = {
  dagId: 'dag',
  runId: 'run',
  taskId: 'task',
  mapIndex: -1,
  key: 'return_value',
  recordId: 'r1',
}

/** What a careful user of node:crypto writes for one value: one cipher, one update over the whole buffer. */
function oneShot(): void {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', material, iv)
  const sealed = cipher.update(data)
  cipher.final()
  const decipher = createDecipheriv('aes-256-gcm', material, iv)
  decipher.setAuthTag(cipher.getAuthTag())
  const opened = decipher.update(sealed)
  decipher.final()
  if (opened.byteLength !== SIZE) throw new Error('one-shot round trip lost bytes')
}

/** One cipher fed 1 MiB chunks: the best node:crypto streams, for reference (no per-segment authentication). */
function oneCipherChunked(): void {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', material, iv)
  const sealed = new Uint8Array(SIZE)
  for (let offset = 0; offset < SIZE; offset += CHUNK)
    sealed.set(cipher.update(data.subarray(offset, offset + CHUNK)), offset)
  cipher.final()
  const decipher = createDecipheriv('aes-256-gcm', material, iv)
  decipher.setAuthTag(cipher.getAuthTag())
  const opened = new Uint8Array(SIZE)
  for (let offset = 0; offset < SIZE; offset += CHUNK)
    opened.set(decipher.update(sealed.subarray(offset, offset + CHUNK)), offset)
  decipher.final()
}

async function bufferForm(): Promise<void> {
  const opened = await encryption.decrypt(await encryption.encrypt(data, binding), binding)
  if (opened.byteLength !== SIZE) throw new Error('buffer round trip lost bytes')
}

/** `chunks` chunks of 1 MiB, made as they are read and dropped once passed on. */
function source(chunks: number, from?: Uint8Array): ReadableStream<Uint8Array> {
  let index = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (index === chunks) return controller.close()
        controller.enqueue(
          from ? from.subarray(index * CHUNK, (index + 1) * CHUNK) : new Uint8Array(CHUNK).fill(index & 0xff),
        )
        index++
      },
    },
    { highWaterMark: 0 },
  )
}

/** Streams through encryptStream -> decryptStream into a sink that counts; calls `sample` every 64 chunks. */
async function streamForm(input: ReadableStream<Uint8Array>, sample = () => {}): Promise<number> {
  let received = 0
  let chunks = 0
  await input
    .pipeThrough(await encryption.encryptStream(binding))
    .pipeThrough(encryption.decryptStream(binding))
    .pipeTo(
      new WritableStream({
        write(chunk) {
          received += chunk.byteLength
          if (++chunks % 64 === 0) sample()
        },
      }),
    )
  return received
}

async function seconds(task: () => unknown): Promise<number> {
  collectGarbage()
  const start = process.hrtime.bigint()
  await task()
  return Number(process.hrtime.bigint() - start) / 1e9
}

// Memory first, before the throughput rounds fill the heap: 1 GiB made chunk by chunk, streamed through both
// transforms, RSS sampled as it goes.
collectGarbage()
const before = process.memoryUsage().rss
let peak = before
const total = Number(process.env.BENCH_STREAM_MIB ?? 1024)
const received = await streamForm(source(total), () => {
  collectGarbage()
  peak = Math.max(peak, process.memoryUsage().rss)
})
if (received !== total * MiB) throw new Error(`streamed ${received} bytes, expected ${total * MiB}`)
console.log(
  `${total} MiB through encryptStream -> decryptStream: RSS growth ${((peak - before) / MiB).toFixed(1)} MiB`,
)

const data = new Uint8Array(randomBytes(SIZE))
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
const rate = (time: number) => `${((2 * SIZE) / MiB / time).toFixed(0).padStart(5)} MiB/s`

const times: Record<string, number[]> = { oneShot: [], chunked: [], buffer: [], stream: [] }
for (let round = 0; round < RUNS; round++) {
  times.oneShot?.push(await seconds(oneShot))
  times.buffer?.push(await seconds(bufferForm))
  times.stream?.push(await seconds(() => streamForm(source(SIZE / CHUNK, data))))
  times.chunked?.push(await seconds(oneCipherChunked))
}
const base = median(times.oneShot as number[])
console.log(
  `${SIZE / MiB} MiB encrypted then decrypted, segment ${SEGMENT / 1024} KiB, median of ${RUNS} rounds (MiB/s counts both passes)`,
)
for (const [name, label] of [
  ['oneShot', 'node:crypto one-shot (baseline)'],
  ['chunked', 'node:crypto one cipher, 1 MiB updates'],
  ['buffer', 'aesGcmStream encrypt + decrypt'],
  ['stream', 'aesGcmStream encryptStream -> decryptStream'],
] as const) {
  const time = median(times[name] as number[])
  console.log(`${label.padEnd(46)} ${rate(time)}  ${(base / time).toFixed(2)}x baseline`)
}
