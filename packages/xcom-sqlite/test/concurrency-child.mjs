// One of the processes of the concurrency test (concurrency.test.ts): runs `ops` pushes, pulls and clears on
// `identities` overlapping identities through the BUILT packages, and writes a log of every operation (with wall-clock
// start and end times, comparable across processes on one machine) to `out` as JSON.
// Usage: node concurrency-child.mjs <store module URL> <XCOM_METADATA_URL> <objects root> <child> <ops> <identities> <out>
import { writeFileSync } from 'node:fs'
import { XCOM_ERROR_CODES, XCom, XComError } from '@xcom/core'
import { FileObjectStore, ObjectStoreXComBackend } from '@xcom/objectstore'

const [storeModule, metadataUrl, root, childArg, opsArg, identitiesArg, out] = process.argv.slice(2)
const { metadataStoreFromUrl } = await import(storeModule)
const child = Number(childArg)
const xcom = new XCom({
  metadata: await metadataStoreFromUrl(metadataUrl),
  backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 }),
})

let seed = child * 7919 + 17
const random = () => {
  seed = (seed * 48271) % 2147483647
  return seed / 2147483647
}
const now = () => performance.timeOrigin + performance.now()

const log = []
for (let n = 0; n < Number(opsArg); n++) {
  const identity = Math.floor(random() * Number(identitiesArg))
  const id = { dagId: 'concurrency', runId: 'run', taskId: `task-${identity}` }
  const roll = random()
  const op = roll < 0.5 ? 'push' : roll < 0.8 ? 'pull' : 'clear'
  const entry = { identity, op, start: now(), end: 0 }
  if (op === 'push') entry.value = { child, n, filler: 'x'.repeat(Math.floor(random() * 300)) }
  try {
    if (op === 'push') await xcom.push(id, entry.value)
    else if (op === 'pull') entry.pulled = await xcom.pull(id, { default: null })
    else await xcom.clear(id)
  } catch (error) {
    entry.error =
      XComError.is(error) && XCOM_ERROR_CODES.includes(error.code)
        ? error.code
        : `UNDOCUMENTED ${error?.stack ?? error}`
    entry.message = String(error?.message ?? error)
  }
  entry.end = now()
  log.push(entry)
}
await xcom.close()
writeFileSync(out, JSON.stringify(log))
