// One process of `expectConcurrentProcessesConsistent` (concurrency.ts): builds its XCom with `XCom.fromEnv` from the
// environment the harness sets, runs `operations` pushes, pulls and clears on `identities` overlapping identities, and
// writes a log of every operation (with wall-clock start and end times, comparable across the processes of one
// machine) to `out` as JSON.
// Usage: node concurrency-child.js <child> <operations> <identities> <out>
import { writeFileSync } from 'node:fs'
import { XCOM_ERROR_CODES, XCom, XComError } from '@xcom/core'

const [childArg, operations, identities, out] = process.argv.slice(2).map(String) as [
  string,
  string,
  string,
  string,
]
const child = Number(childArg)
const xcom = await XCom.fromEnv()

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
