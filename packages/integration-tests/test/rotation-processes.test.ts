import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ObjectStore, type RotationReport, XCom } from '@xcom/core'
import { generateKey } from '@xcom/encryption'
import { FileObjectStore, isObjectKey } from '@xcom/objectstore'
import { S3ObjectStore } from '@xcom/s3'
import { requireServiceOrSkip, type S3rverHandle, startS3rver } from '@xcom/test-services'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decodeValue,
  encodeValue,
  IDENTITIES,
  identityOf,
  THRESHOLD,
  type WorkerMessage,
} from './rotation-values.ts'
import { POSTGRES_URL, usePostgres } from './services.ts'

const BUCKET = 'xcom-rotation'
const WORKERS = 4
/** Identities are owned by index % OWNERS: workers 0-3, and the parent (4), which pushes its own under k1 alone. */
const OWNERS = WORKERS + 1
const WORKER_MS = Number(process.env.XCOM_ROTATION_WORKER_MS ?? 10_000)
const WORKER = fileURLToPath(new URL('./rotation-worker.ts', import.meta.url))
const PACKAGE = fileURLToPath(new URL('..', import.meta.url))

const postgres = usePostgres()
let s3: S3rverHandle | undefined
let dir: string
let schema = ''

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xcom-rotation-it-'))
  schema = `xcom_rot_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  s3 = await requireServiceOrSkip('s3rver', () => startS3rver({ bucket: BUCKET }))
}, 60_000)
afterAll(async () => {
  await postgres()?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await s3?.stop()
  await rm(dir, { recursive: true, force: true })
})

/** Every process's settings but the keys: PostgreSQL in a schema of this run, s3rver (file:// locally without it). */
function baseEnv(): Record<string, string> {
  const url = new URL(POSTGRES_URL)
  url.searchParams.set('schema', schema)
  const common = {
    XCOM_METADATA_URL: url.toString(),
    XCOM_OBJECTSTORAGE_THRESHOLD: String(THRESHOLD),
    XCOM_OBJECTSTORAGE_COMPRESSION: 'gzip',
    XCOM_ENCRYPTION_INLINE: 'true',
    XCOM_LOG_LEVEL: 'silent',
  }
  if (!s3) return { ...common, XCOM_OBJECTSTORAGE_PATH: `file://${join(dir, 'objects')}` }
  return {
    ...common,
    XCOM_OBJECTSTORAGE_PATH: `s3://local_s3@${BUCKET}/rotation`,
    XCOM_CONN_LOCAL_S3: JSON.stringify({
      conn_type: 'aws',
      login: s3.credentials.accessKeyId,
      password: s3.credentials.secretAccessKey,
      extra: {
        region_name: s3.region,
        endpoint_url: s3.endpoint,
        config_kwargs: { s3: { addressing_style: 'path' } },
      },
    }),
  }
}

/** The store the processes share, opened raw: to count its objects. */
function rawStore(): ObjectStore {
  if (!s3) return new FileObjectStore({ root: join(dir, 'objects') })
  return new S3ObjectStore({
    bucket: BUCKET,
    prefix: 'rotation',
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3.credentials,
    conditionalCreate: false,
  })
}

interface Worker {
  child: ChildProcess
  messages: WorkerMessage[]
  stderr: string[]
  ready: Promise<void>
  exited: Promise<number | null>
}

function startWorker(worker: number, env: Record<string, string>, seed: number): Worker {
  const child = fork(WORKER, [], {
    cwd: PACKAGE,
    execArgv: ['--conditions=@xcom/source'],
    env: {
      ...process.env,
      ...env,
      XCOM_WORKER: String(worker),
      XCOM_OWNERS: String(OWNERS),
      XCOM_WORKER_MS: String(WORKER_MS),
      XCOM_WORKER_SEED: String(seed),
    },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  })
  const messages: WorkerMessage[] = []
  const stderr: string[] = []
  child.stderr?.on('data', (data: Buffer) => stderr.push(data.toString()))
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: WorkerMessage) => {
      messages.push(message)
      if (message.type === 'ready') resolve()
    })
    child.once('exit', (code) =>
      reject(new Error(`worker ${worker} exited (${code}) before it was ready: ${stderr.join('')}`)),
    )
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, messages, stderr, ready, exited }
}

describe('rotation while 4 processes pull and push', () => {
  it('no failed pull, nothing lost, nothing left under the old key, no orphan', async (ctx) => {
    if (!postgres()) return ctx.skip()
    const env = baseEnv()
    const [k1, k2] = [generateKey('k1'), generateKey('k2')]

    // Before: every XCom written under k1 alone.
    const seeding = await XCom.fromEnv({ ...env, XCOM_ENCRYPTION_KEYS: k1 })
    try {
      for (let index = 0; index < IDENTITIES; index++)
        await seeding.push(identityOf(index), encodeValue(index, 0, Math.random))
    } finally {
      await seeding.close()
    }

    const rotator = await XCom.fromEnv({ ...env, XCOM_ENCRYPTION_KEYS: `${k2},${k1}` })
    const oldWriter = await XCom.fromEnv({ ...env, XCOM_ENCRYPTION_KEYS: k1 })
    const onlyNew = await XCom.fromEnv({ ...env, XCOM_ENCRYPTION_KEYS: k2 })
    const workers: Worker[] = []
    try {
      expect(await rotator.rotateKeys({}, { dryRun: true })).toMatchObject({
        scanned: IDENTITIES,
        rotated: IDENTITIES,
        current: 0,
      })

      // During: 4 workers (keys "k2,k1") pull and push while the parent rotates, pass after pass.
      const seed = Date.now() % 100_000
      console.log(
        `rotation-processes: worker seeds ${seed}..${seed + WORKERS - 1}, store ${env.XCOM_OBJECTSTORAGE_PATH}`,
      )
      for (let worker = 0; worker < WORKERS; worker++)
        workers.push(startWorker(worker, { ...env, XCOM_ENCRYPTION_KEYS: `${k2},${k1}` }, seed + worker))
      await Promise.all(workers.map((worker) => worker.ready))
      for (const worker of workers) worker.child.send('go')
      let running = true
      const allExited = Promise.all(workers.map((worker) => worker.exited)).finally(() => {
        running = false
      })
      // Between passes the parent pushes new versions of its own identities under k1 (a process not yet given the new
      // key), so every pass has values to re-encrypt while the workers read them.
      const parentPushes: WorkerMessage[] = []
      const mine = Array.from({ length: IDENTITIES }, (_, index) => index).filter(
        (index) => index % OWNERS === WORKERS,
      )
      const passes: RotationReport[] = []
      while (running) {
        for (const index of mine.filter(() => Math.random() < 0.5)) {
          const version =
            parentPushes.filter((message) => message.type === 'pushed' && message.index === index).length + 1
          await oldWriter.push(identityOf(index), encodeValue(index, version, Math.random))
          parentPushes.push({ type: 'pushed', index, version })
        }
        passes.push(await rotator.rotateKeys())
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const codes = await allExited

      const messages = [...workers.flatMap((worker) => worker.messages), ...parentPushes]
      const failures = messages.filter((message) => message.type === 'failed')
      expect(failures, workers.map((worker) => worker.stderr.join('')).join('\n')).toEqual([])
      expect(codes).toEqual(Array(WORKERS).fill(0))
      const done = messages.filter((message) => message.type === 'done')
      expect(done).toHaveLength(WORKERS)
      // At least two full passes ran while the workers did (the loop ends with the pass under way when they stop),
      // each with values to re-encrypt.
      expect(passes.length).toBeGreaterThanOrEqual(3)
      expect(passes.filter((pass) => pass.rotated > 0).length).toBeGreaterThanOrEqual(2)
      // An XCom pushed while a pass re-encrypted it is `changed`, never `failed`.
      expect(passes.flatMap((pass) => pass.failed)).toEqual([])
      const rotated = passes.reduce((sum, pass) => sum + pass.rotated, 0)
      const changed = passes.reduce((sum, pass) => sum + pass.changed, 0)

      // Every pulled version is one that was pushed to that identity (0: the seeded one).
      const pushed = new Map<number, Set<number>>()
      const last = new Map<number, number>()
      for (const message of messages) {
        if (message.type !== 'pushed') continue
        if (!pushed.has(message.index)) pushed.set(message.index, new Set([0]))
        pushed.get(message.index)?.add(message.version)
        expect(message.version).toBe((last.get(message.index) ?? 0) + 1) // one writer per identity, in order
        last.set(message.index, message.version)
      }
      const pulled = messages.filter((message) => message.type === 'pulled')
      for (const message of pulled)
        expect(
          pushed.get(message.index)?.has(message.version) ?? message.version === 0,
          `pull of ${message.index}`,
        ).toBe(true)
      const totals = done.reduce(
        (sum, message) => ({ pulls: sum.pulls + message.pulls, pushes: sum.pushes + message.pushes }),
        { pulls: 0, pushes: 0 },
      )
      expect(totals.pulls).toBe(pulled.length)
      expect(totals.pulls).toBeGreaterThan(50)
      expect(totals.pushes).toBeGreaterThan(20)
      expect(rotated).toBeGreaterThan(IDENTITIES / 2)
      console.log(
        `rotation-processes: ${totals.pulls} pulls, ${totals.pushes} pushes by workers, ${parentPushes.length} under k1 by the parent, ` +
          `${passes.length} rotation passes (rotated ${rotated}, changed ${changed}, failed ${passes.flatMap((pass) => pass.failed).length}; first pass ${JSON.stringify({ ...passes[0], failed: passes[0]?.failed.length })})`,
      )

      // After: nothing to rotate, and the new key alone reads the last version pushed to every identity.
      expect(await rotator.rotateKeys()).toMatchObject({
        scanned: IDENTITIES,
        rotated: 0,
        current: IDENTITIES,
        changed: 0,
        failed: [],
      })
      for (let index = 0; index < IDENTITIES; index++)
        expect(decodeValue(index, await onlyNew.pull(identityOf(index))), `XCom ${index}`).toBe(
          last.get(index) ?? 0,
        )

      // After gc, the store holds exactly the objects the rows reference.
      const gc = await rotator.gc({ graceMs: 0 })
      expect(gc.purgesFailed).toBe(0)
      const referenced: string[] = []
      for await (const page of rotator.pages({}))
        for (const record of page)
          if (record.value.kind === 'reference') referenced.push(String(record.value.ref.objectKey))
      const store = rawStore()
      const objects: string[] = []
      try {
        for await (const info of store.list('')) if (isObjectKey(info.objectKey)) objects.push(info.objectKey)
      } finally {
        await store.close?.()
      }
      console.log(`rotation-processes: gc ${JSON.stringify(gc)}; ${objects.length} objects`)
      expect(objects.sort()).toEqual(referenced.sort())
      expect(referenced.length).toBe(IDENTITIES / 2)
    } finally {
      for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill()
      await Promise.all([rotator.close(), oldWriter.close(), onlyNew.close()])
    }
  }, 120_000)
})
