// One process of `expectConcurrentProcessesConsistent` (concurrency.ts): runs `operations` pushes, pulls and clears on
// `identities` overlapping identities through BUILT packages, and writes a log of every operation (with wall-clock
// start and end times, comparable across the processes of one machine) to `out` as JSON.
// Usage: node concurrency-child.js <store module URL> <objectstore module URL> <metadata URL> <objects root> <child>
//   <operations> <identities> <out>
import { writeFileSync } from 'node:fs'
import { type MetadataStore, XCOM_ERROR_CODES, XCom, XComError } from '@xcom/core'

interface ObjectStoreModule {
  FileObjectStore: new (options: { root: string }) => unknown
  ObjectStoreXComBackend: new (options: { store: unknown; threshold: number }) => XCom['backend']
}

const [storeModule, objectStoreModule, metadataUrl, root, childArg, operations, identities, out] =
  process.argv.slice(2).map(String) as [string, string, string, string, string, string, string, string]
const { metadataStoreFactory } = (await import(storeModule)) as {
  metadataStoreFactory(url: string): Promise<MetadataStore>
}
const { FileObjectStore, ObjectStoreXComBackend } = (await import(objectStoreModule)) as ObjectStoreModule
const child = Number(childArg)
const xcom = new XCom({
  metadata: await metadataStoreFactory(metadataUrl),
  backend: new ObjectStoreXComBackend({ store: new FileObjectStore({ root }), threshold: 0 }),
})

let seed = child * 7919 + 17
const random = () => {
  seed = (seed * 48271) % 2147483647
  return seed / 2147483647
}
const now = () => performance.timeOrigin + performance.now()

const log: Record<string, unknown>[] = []
for (let n = 0; n < Number(operations); n++) {
  const identity = Math.floor(random() * Number(identities))
  const id = { dagId: 'concurrency', runId: 'run', taskId: `task-${identity}` }
  const roll = random()
  const op = roll < 0.5 ? 'push' : roll < 0.8 ? 'pull' : 'clear'
  const entry: Record<string, unknown> = { identity, op, start: now(), end: 0 }
  if (op === 'push') entry.value = { child, n, filler: 'x'.repeat(Math.floor(random() * 300)) }
  try {
    if (op === 'push') await xcom.push(id, entry.value)
    else if (op === 'pull') entry.pulled = await xcom.pull(id, { default: null })
    else await xcom.clear(id)
  } catch (error) {
    entry.error =
      XComError.is(error) && XCOM_ERROR_CODES.includes(error.code)
        ? error.code
        : `UNDOCUMENTED ${(error as Error)?.stack ?? error}`
    entry.message = String((error as Error)?.message ?? error)
  }
  entry.end = now()
  log.push(entry)
}
await xcom.close()
writeFileSync(out, JSON.stringify(log))
