// The demo pipeline: four tasks passing values through xcom, written the way a user writes a DAG, with the public API
// only. `pnpm demo [--records N] [--clear]`; the environment (XCOM_* / AIRFLOW__* variables) can point it anywhere.
import { parseArgs } from 'node:util'
import { printableConfig, readXComConfig, XCom, XComError, type XComIdentity } from '@xcom/core'
import { customerCount, formatCents, generateOrders, type Order, partitionOf } from './data.ts'
import {
  describeRecord,
  formatSummary,
  formatTable,
  listRun,
  listRuns,
  summarize,
  timingKey,
} from './report.ts'
import { demoSettings } from './settings.ts'

/** The DAG every run of the demo belongs to. */
export const DAG_ID = 'demo_orders'
/** How many mapped `transform` instances split the orders. */
export const PARTITIONS = 4
const DEFAULT_RECORDS = 250_000

/** What every task gets: the XCom, its run, and a place to note how long each push took. */
interface TaskContext {
  xcom: XCom
  dagId: string
  runId: string
  timings: Map<string, number>
}

/** The totals a `transform` instance computes for its partition and `aggregate` adds up for the run. */
interface OrderTotals {
  orders: number
  customers: number
  revenueCents: bigint
  byStatus: Record<string, number>
  firstOrderAt: Date
  lastOrderAt: Date
}

/** What each `transform` instance returns: small, so it stays in the metadata database. */
interface PartitionResult extends OrderTotals {
  partition: number
}

/** One customer's totals in a partition's `customers` Map. */
interface CustomerTotals {
  orders: number
  totalCents: bigint
  firstOrderAt: Date
  lastOrderAt: Date
}

/** What `aggregate` returns. */
interface Summary extends OrderTotals {
  partitions: number
}

async function push(
  ctx: TaskContext,
  task: { taskId: string; mapIndex?: number; key?: string },
  value: unknown,
): Promise<void> {
  const identity: XComIdentity = { dagId: ctx.dagId, runId: ctx.runId, ...task }
  const started = performance.now()
  await ctx.xcom.push(identity, value)
  ctx.timings.set(
    timingKey({ taskId: task.taskId, mapIndex: task.mapIndex ?? -1, key: task.key ?? 'return_value' }),
    performance.now() - started,
  )
}

/** Task `extract`: reads the orders from the "source system" and returns them (tens of MB: offloaded). */
async function extract(ctx: TaskContext, records: number): Promise<void> {
  await push(ctx, { taskId: 'extract' }, generateOrders(records))
}

/** Task `transform`, mapped over the partitions: totals per partition (inline) and per customer (a Map, offloaded). */
async function transform(ctx: TaskContext, partition: number): Promise<void> {
  const orders = await ctx.xcom.pull<Order[]>({ dagId: ctx.dagId, runId: ctx.runId, taskId: 'extract' })
  const customers = new Map<string, CustomerTotals>()
  const byStatus: Record<string, number> = {}
  let count = 0
  let revenueCents = 0n
  let first: Date | undefined
  let last: Date | undefined
  for (const order of orders) {
    if (partitionOf(order.customerId, PARTITIONS) !== partition) continue
    count++
    byStatus[order.status] = (byStatus[order.status] ?? 0) + 1
    if (order.status === 'refunded') continue
    revenueCents += order.amountCents
    if (!first || order.createdAt < first) first = order.createdAt
    if (!last || order.createdAt > last) last = order.createdAt
    const totals = customers.get(order.customerId)
    if (totals) {
      totals.orders++
      totals.totalCents += order.amountCents
      if (order.createdAt < totals.firstOrderAt) totals.firstOrderAt = order.createdAt
      if (order.createdAt > totals.lastOrderAt) totals.lastOrderAt = order.createdAt
    } else {
      customers.set(order.customerId, {
        orders: 1,
        totalCents: order.amountCents,
        firstOrderAt: order.createdAt,
        lastOrderAt: order.createdAt,
      })
    }
  }
  const result: PartitionResult = {
    partition,
    orders: count,
    customers: customers.size,
    revenueCents,
    byStatus,
    firstOrderAt: first ?? new Date(0),
    lastOrderAt: last ?? new Date(0),
  }
  await push(ctx, { taskId: 'transform', mapIndex: partition }, result)
  await push(ctx, { taskId: 'transform', mapIndex: partition, key: 'customers' }, customers)
}

/** Task `aggregate`: every mapped result with ONE `pullMany`, into a summary. */
async function aggregate(ctx: TaskContext): Promise<void> {
  const results = await ctx.xcom.pullMany({ dagId: ctx.dagId, runId: ctx.runId, taskId: 'transform' })
  const partitions = results
    .filter((result) => result.key === 'return_value')
    .map((r) => r.value as PartitionResult)
  const summary: Summary = {
    orders: 0,
    customers: 0,
    revenueCents: 0n,
    byStatus: {},
    firstOrderAt: new Date(8.64e15),
    lastOrderAt: new Date(0),
    partitions: partitions.length,
  }
  for (const part of partitions) {
    summary.orders += part.orders
    summary.customers += part.customers
    summary.revenueCents += part.revenueCents
    for (const [status, n] of Object.entries(part.byStatus))
      summary.byStatus[status] = (summary.byStatus[status] ?? 0) + n
    if (part.orders && part.firstOrderAt < summary.firstOrderAt) summary.firstOrderAt = part.firstOrderAt
    if (part.orders && part.lastOrderAt > summary.lastOrderAt) summary.lastOrderAt = part.lastOrderAt
  }
  // The per-customer Maps came with the same query: check them against the partition totals.
  const customerMaps = results.filter((result) => result.key === 'customers')
  const mapped = customerMaps.reduce((sum, result) => sum + (result.value as Map<string, unknown>).size, 0)
  if (mapped !== summary.customers)
    throw new Error(`aggregate: ${mapped} customers in the maps, ${summary.customers} in the results`)
  await push(ctx, { taskId: 'aggregate' }, summary)
}

/** Task `report`: a CSV of every customer, pushed as a stream of bytes, and a short text summary. */
async function report(ctx: TaskContext): Promise<string> {
  const run = { dagId: ctx.dagId, runId: ctx.runId }
  const summary = await ctx.xcom.pull<Summary>({ ...run, taskId: 'aggregate' })
  const maps = await ctx.xcom.pullMany({ ...run, taskId: 'transform', key: 'customers' })
  const customers = maps
    .flatMap(({ value }) => [...(value as Map<string, CustomerTotals>)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  await push(ctx, { taskId: 'report', key: 'customers_csv' }, csvLines(customers))
  const day = (date: Date) => date.toISOString().slice(0, 10)
  const text =
    `${summary.orders.toLocaleString('en')} orders from ${summary.customers.toLocaleString('en')} customers, ` +
    `EUR ${formatCents(summary.revenueCents)} net of refunds, ${day(summary.firstOrderAt)} to ${day(summary.lastOrderAt)}`
  await push(ctx, { taskId: 'report' }, text)
  return text
}

/** The CSV as chunks of bytes, produced while the backend uploads them. */
async function* csvLines(customers: [string, CustomerTotals][]): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder()
  yield encoder.encode('customer_id,orders,total_eur,first_order_at,last_order_at\n')
  for (let i = 0; i < customers.length; i += 1000) {
    let chunk = ''
    for (const [id, totals] of customers.slice(i, i + 1000)) {
      chunk += `${id},${totals.orders},${formatCents(totals.totalCents)},${totals.firstOrderAt.toISOString()},${totals.lastOrderAt.toISOString()}\n`
    }
    yield encoder.encode(chunk)
  }
}

const USAGE = `Usage: pnpm demo [--records N] [--clear]

  --records N  orders extract pushes (default ${DEFAULT_RECORDS.toLocaleString('en')})
  --clear      remove the earlier runs of ${DAG_ID} (rows and objects) first
  --help       this text

Settings come from the environment (XCOM_* or AIRFLOW__* variables, see README.md); unset ones default to SQLite and
file:// objects under XCOM_DEMO_DIR (default: .xcom at the repository root).`

/** Runs the demo: clears when asked, runs the four tasks as a new run, prints the table of the run. */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string' },
      clear: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const records = values.records === undefined ? DEFAULT_RECORDS : Number(values.records)
  if (!Number.isSafeInteger(records) || records < 1)
    throw new XComError(
      'E_CONFIG',
      `--records must be a whole number of at least 1; got "${values.records}".`,
    )

  const settings = demoSettings(env)
  const xcom = await XCom.fromEnv(settings.env)
  try {
    console.log('xcom settings:')
    for (const [variable, value] of Object.entries(printableConfig(readXComConfig(settings.env)))) {
      console.log(`  ${variable} = ${value}`)
    }
    const filled = Object.keys(settings.filled)
    if (filled.length) console.log(`  (demo defaults for the unset ${filled.join(', ')})`)
    if (values.clear) {
      const earlier = await listRuns(xcom, DAG_ID)
      const cleared = await xcom.clear({ dagId: DAG_ID })
      console.log(
        `\ncleared ${earlier.length} earlier run(s) of ${DAG_ID}: ${cleared.deleted} XComs, ${cleared.purged} stored objects deleted` +
          (cleared.failedPurges ? `, ${cleared.failedPurges} purges left for xcom gc` : ''),
      )
    }

    const runId = `manual__${new Date().toISOString()}`
    const ctx: TaskContext = { xcom, dagId: DAG_ID, runId, timings: new Map() }
    console.log(
      `\nrun ${runId}: ${records.toLocaleString('en')} orders from up to ${customerCount(records).toLocaleString('en')} customers`,
    )
    const started = performance.now()
    const step = async (name: string, task: () => Promise<unknown>) => {
      const at = performance.now()
      await task()
      console.log(`  ${name.padEnd(22)} ${Math.round(performance.now() - at)} ms`)
    }
    await step('extract', () => extract(ctx, records))
    for (let partition = 0; partition < PARTITIONS; partition++)
      await step(`transform[${partition}]`, () => transform(ctx, partition))
    await step('aggregate', () => aggregate(ctx))
    let text = ''
    await step('report', async () => {
      text = await report(ctx)
    })
    const elapsed = performance.now() - started

    const rows = (await listRun(xcom, DAG_ID, runId)).map((record) => describeRecord(record, ctx.timings))
    console.log(`\n${formatTable(rows)}\n`)
    console.log(formatSummary(summarize(rows), elapsed))
    console.log(`report: ${text}`)

    const runs = await listRuns(xcom, DAG_ID)
    const kept = runs.filter((id) => id !== runId).length
    console.log(
      kept
        ? `\n${kept} earlier run(s) of ${DAG_ID} kept (pnpm demo --clear removes them).`
        : `\nno earlier runs of ${DAG_ID}.`,
    )
    printCommands(runId, settings.filled)
  } finally {
    await xcom.close()
  }
}

/** The `xcom` commands (@xcom/cli) that look at this run, with the settings the demo filled in. */
function printCommands(runId: string, filled: Record<string, string>): void {
  const quote = (text: string) => (/^[\w./:@%=-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`)
  const settings = ['XCOM_METADATA_URL', 'XCOM_OBJECTSTORAGE_PATH']
    .filter((name) => name in filled)
    .map((name) => `${name}=${quote(filled[name] ?? '')}`)
  const run = quote(runId)
  // In this repository the command is `pnpm --silent xcom`; where @xcom/cli is installed, plain `xcom`.
  console.log(
    '\nLook at this run with the xcom command (`pnpm --silent xcom` here, `xcom` with @xcom/cli installed):',
  )
  if (settings.length) console.log(`  export ${settings.join(' ')}`)
  console.log(`  pnpm --silent xcom ls --dag ${DAG_ID} --run ${run}`)
  console.log(`  pnpm --silent xcom get ${DAG_ID} ${run} report`)
  console.log(`  pnpm --silent xcom get ${DAG_ID} ${run} transform --map-index 0`)
  console.log(`  pnpm --silent xcom verify --dag ${DAG_ID}`)
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main(process.argv.slice(2), process.env).catch((error: unknown) => {
    const code = XComError.is(error) ? `${error.code}: ` : ''
    console.error(`demo failed: ${code}${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  })
}
