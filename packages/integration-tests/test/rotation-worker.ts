// A child of rotation-processes.test.ts: for XCOM_WORKER_MS it pulls random XComs of all identities and pushes new
// versions of the identities it owns (index % owners; the parent owns the rest), reporting to the parent over IPC every version it pushed and every version it
// pulled, and every failure. Its XCom comes from the environment (the parent's keys, database and store).
import { XCom } from '@xcom/core'
import { decodeValue, encodeValue, IDENTITIES, identityOf, type WorkerMessage } from './rotation-values.ts'

const worker = Number(process.env.XCOM_WORKER)
const owners = Number(process.env.XCOM_OWNERS)
let seed = Number(process.env.XCOM_WORKER_SEED)
/** A small seeded generator (mulberry32): each run can be replayed from the seed the parent prints. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) =>
    (process.send as NonNullable<typeof process.send>)(message, undefined, {}, (error) =>
      error ? reject(error) : resolve(),
    ),
  )
}

const owned = Array.from({ length: IDENTITIES }, (_, index) => index).filter(
  (index) => index % owners === worker,
)
const versions = new Map<number, number>(owned.map((index) => [index, 0]))
const xcom = await XCom.fromEnv(process.env)
// Start together: the parent says go once every worker has its XCom.
const go = new Promise((resolve) => process.once('message', resolve))
await send({ type: 'ready' })
await go
const until = Date.now() + Number(process.env.XCOM_WORKER_MS)
let pulls = 0
let pushes = 0
try {
  while (Date.now() < until) {
    if (random() < 0.3) {
      const index = owned[Math.floor(random() * owned.length)] as number
      const version = (versions.get(index) ?? 0) + 1
      try {
        await xcom.push(identityOf(index), encodeValue(index, version, random))
        versions.set(index, version)
        pushes++
        await send({ type: 'pushed', index, version })
      } catch (error) {
        await send({ type: 'failed', op: 'push', index, error: describe(error) })
      }
    } else {
      const index = Math.floor(random() * IDENTITIES)
      try {
        const version = decodeValue(index, await xcom.pull(identityOf(index)))
        pulls++
        await send({ type: 'pulled', index, version })
      } catch (error) {
        await send({ type: 'failed', op: 'pull', index, error: describe(error) })
      }
    }
  }
} finally {
  await xcom.close()
}
await send({ type: 'done', pulls, pushes })
process.disconnect()

function describe(error: unknown): string {
  const code = (error as { code?: unknown })?.code
  return `${typeof code === 'string' ? `${code}: ` : ''}${(error as Error)?.message ?? String(error)}`
}
