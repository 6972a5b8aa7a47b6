import { open, rename, rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import { formatIdentity, type XCom, XComError, type XComIdentity } from '@xcom/core'
import type { Command } from 'commander'
import { type App, addIdentity, examples, type IdentityOptions, identityOf } from '../app.ts'
import { withXCom } from '../context.ts'
import { colorsEnabled, formatBytes } from '../output.ts'
import { startProgress } from '../progress.ts'
import { drain } from '../streams.ts'
import { prettyValue, rawValue } from '../value.ts'

interface GetOptions extends IdentityOptions {
  raw?: boolean
  out?: string
}

/** `xcom get`: one value, pretty-printed, raw, or streamed to a file. */
export function registerGet(program: Command, app: App): void {
  const command = addIdentity(
    program
      .command('get')
      .description('print one XCom value (verified against its checksum), or stream it to a file'),
  )
    .option('--raw', "binary values as their bytes, others as compact JSON in xcom's serialized form")
    .option('--out <file>', 'stream the stored bytes to FILE (binary values as is, others as JSON text)')
  examples(command, [
    'xcom get etl manual__2024-01-01 extract',
    'xcom get etl r1 extract --key rows --map-index 3 --raw | jq .',
    'xcom get etl r1 dump --out dump.parquet',
  ])
  command.action(async (dagId: string, runId: string, taskId: string, options: GetOptions) => {
    const identity = identityOf(dagId, runId, taskId, options)
    await withXCom(app.io, app.globals(), async (xcom) => {
      if (options.out !== undefined) return writeToFile(app, xcom, identity, resolve(options.out))
      const value = await xcom.pull(identity, { default: MISSING })
      if (value === MISSING) throw await notFound(xcom, identity)
      if (value instanceof Uint8Array) {
        if (options.raw) app.io.stdout.write(value)
        else
          app.out.line(
            `(binary value, ${formatBytes(value.byteLength)}: use --raw to write its bytes, or --out FILE)`,
          )
        return
      }
      app.out.line(
        options.raw ? rawValue(value) : prettyValue(value, colorsEnabled(app.io.stdout, app.io.env)),
      )
    })
  })
}

/** What `pull` returns for a missing XCom here, so the error can say what to do on the command line. */
const MISSING = Symbol('missing')

/** `E_NOT_FOUND` naming the XCom and the database looked in, with what to try from the command line. */
async function notFound(xcom: XCom, identity: XComIdentity): Promise<XComError> {
  const name = formatIdentity(identity)
  const database = (await xcom.metadata.identity()).description
  return new XComError(
    'E_NOT_FOUND',
    `No XCom ${name} in ${database} (or it expired): see what is there with \`xcom ls --dag ${identity.dagId} --run ${identity.runId}\`, or point --metadata-url (XCOM_METADATA_URL) at the database the tasks use.`,
    { xcom: name, uri: database },
  )
}

/**
 * Streams the value into `file`, through a temporary file renamed only once the stream has ended cleanly: the
 * backend checks size and checksum at the end, so a damaged value never lands under the name asked for.
 */
async function writeToFile(app: App, xcom: XCom, identity: XComIdentity, file: string): Promise<void> {
  const { records } = await xcom.list(
    {
      dagId: identity.dagId,
      runId: identity.runId,
      taskId: identity.taskId,
      key: identity.key,
      mapIndex: identity.mapIndex,
    },
    { limit: 1 },
  )
  const size = records[0]?.value.size
  if (size === undefined) throw await notFound(xcom, identity)
  const partial = `${file}.xcom-partial`
  const handle = await open(partial, 'w')
  const progress = startProgress(app.out, { total: size, label: 'get', unit: 'bytes' })
  let written = 0
  try {
    if (xcom.backend.openStream) {
      const stream = await xcom.pullStream(identity)
      await drain(stream, async (chunk) => {
        await handle.write(chunk)
        written += chunk.byteLength
        progress.update(written)
      })
    } else {
      const value = await xcom.pull(identity)
      const bytes = value instanceof Uint8Array ? value : Buffer.from(rawValue(value), 'utf8')
      await handle.write(bytes)
      written = bytes.byteLength
    }
    await handle.close()
    await rename(partial, file)
  } catch (error) {
    await handle.close().catch(() => {})
    await rm(partial, { force: true })
    throw error
  } finally {
    progress.stop()
  }
  app.out.note(`wrote ${formatIdentity(identity)} to ${file} (${formatBytes(written)})`)
}
