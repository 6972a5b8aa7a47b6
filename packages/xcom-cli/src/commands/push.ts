import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { formatIdentity } from '@xcom/core'
import type { Command } from 'commander'
import { type App, addIdentity, examples, type IdentityOptions, identityOf } from '../app.ts'
import { parseDuration, withXCom } from '../context.ts'
import { UsageError } from '../exit-codes.ts'

interface PushOptions extends IdentityOptions {
  file?: string
  json?: string
  bytes?: boolean
  expires?: number
}

/** `xcom push`: stores a value from a file, a JSON argument or stdin, for scripts and tests. */
export function registerPush(program: Command, app: App): void {
  const command = addIdentity(
    program
      .command('push')
      .description('store a value: a file (as bytes, streamed), a JSON argument, or JSON on stdin'),
  )
    .option('--file <file>', "push the file's bytes as a binary value, streamed")
    .option('--json <text>', 'push this JSON value')
    .option('--bytes', 'read stdin as bytes (a binary value) instead of JSON text')
    .option('--expires <duration>', 'the value expires after this long (e.g. 7d)', parseDuration)
  examples(command, [
    'xcom push etl r1 extract --json \'{"rows": 3}\'',
    'xcom push etl r1 dump --file dump.parquet',
    "echo '[1, 2, 3]' | xcom push etl r1 extract --key numbers",
    'tar c data | xcom push etl r1 archive --bytes',
  ])
  command.action(async (dagId: string, runId: string, taskId: string, options: PushOptions) => {
    const identity = identityOf(dagId, runId, taskId, options)
    checkOptions(app, options)
    await withXCom(app.io, app.globals(), async (xcom) => {
      // A backend that cannot stream values back (everything inline) cannot take a stream either: read it whole.
      const value = await pushedValue(app, options, xcom.backend.openStream !== undefined)
      const expiresAt = options.expires === undefined ? undefined : new Date(Date.now() + options.expires)
      const record = await xcom.push(identity, value, expiresAt ? { expiresAt } : {})
      app.out.note(`pushed ${formatIdentity(identity)}: ${xcom.display(record)}`)
    })
  })
}

/** Refuses contradictory or missing value options before anything is opened. */
function checkOptions(app: App, options: PushOptions): void {
  if (options.file !== undefined && options.json !== undefined)
    throw new UsageError('push takes one value: give --file or --json, not both.')
  if (options.file === undefined && options.json === undefined && app.io.stdin.isTTY)
    throw new UsageError('push needs a value: give --file FILE, --json TEXT, or pipe JSON into stdin.')
}

/** The value the options name; stdin is read only when neither `--file` nor `--json` is given. */
async function pushedValue(app: App, options: PushOptions, stream: boolean): Promise<unknown> {
  if (options.file !== undefined) {
    const info = await stat(options.file).catch(() => undefined)
    if (!info?.isFile())
      throw new UsageError(`--file ${options.file} is not a readable file: check the path.`)
    return stream ? createReadStream(options.file) : readFile(options.file)
  }
  if (options.json !== undefined) return parseJson(options.json, '--json')
  if (options.bytes) return stream ? bytesOf(app.io.stdin) : Buffer.concat(await collect(app.io.stdin))
  return parseJson(Buffer.concat(await collect(app.io.stdin)).toString('utf8'), 'stdin')
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new UsageError(
      `${source} is not valid JSON (${(error as Error).message}): quote it for the shell, or push bytes with --file or --bytes.`,
    )
  }
}

async function* bytesOf(input: AsyncIterable<Uint8Array | string>): AsyncIterable<Uint8Array> {
  for await (const chunk of input) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk
}

async function collect(input: AsyncIterable<Uint8Array | string>): Promise<Buffer[]> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(Buffer.from(chunk))
  return chunks
}
