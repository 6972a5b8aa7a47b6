// Pushes a stream of N MiB into a FileObjectStore through the built package and prints the RSS growth as JSON.
// Run: node --expose-gc bench/rss-child.ts <MiB> <dir>
import { MemoryMetadataStore, XCom } from '@xcom/core'
import { FileObjectStore, ObjectStoreXComBackend } from '../dist/index.js'

const mebibytes = Number(process.argv[2])
const root = process.argv[3] as string
const chunk = new Uint8Array(1024 * 1024).map((_, index) => (index * 31) & 0xff)
const rss = () => process.memoryUsage.rss()

const xcom = new XCom({
  metadata: new MemoryMetadataStore(),
  backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 64 * 1024 }),
})
;(globalThis as { gc?: () => void }).gc?.()
const base = rss()
let peak = base
async function* source() {
  for (let index = 0; index < mebibytes; index++) {
    peak = Math.max(peak, rss())
    yield chunk.subarray(0)
  }
}
const started = performance.now()
const record = await xcom.push({ dagId: 'bench', runId: 'run', taskId: 'stream' }, source())
const seconds = (performance.now() - started) / 1000
peak = Math.max(peak, rss())
console.log(JSON.stringify({ size: record.value.size, growth: peak - base, seconds }))
