// Type tests: `tsc -p tsconfig.json` checks the assertions; vitest runs the calls.
import { describe, expectTypeOf, it } from 'vitest'
import { MemoryMetadataStore, type PulledXCom, XCom } from '../src/index.ts'

interface Row {
  id: number
}

const id = { dagId: 'dag', runId: 'run', taskId: 'task' }

describe('XCom generics', () => {
  it('pull keeps the value type next to a default', async () => {
    const xcom = new XCom({ metadata: new MemoryMetadataStore() })
    await xcom.push(id, [{ id: 1 }])
    expectTypeOf(await xcom.pull(id)).toEqualTypeOf<unknown>()
    expectTypeOf(await xcom.pull<Row[]>(id)).toEqualTypeOf<Row[]>()
    expectTypeOf(await xcom.pull<Row[]>(id, { default: null })).toEqualTypeOf<Row[] | null>()
    expectTypeOf(await xcom.pull<Row[]>(id, { default: undefined })).toEqualTypeOf<Row[] | undefined>()
    expectTypeOf(await xcom.pull<Row[]>(id, { default: [] })).toEqualTypeOf<Row[]>()
    expectTypeOf(await xcom.pull<Row[], string>(id, { default: 'none' })).toEqualTypeOf<Row[] | string>()
    // The README's own example: without a type argument the value is unknown, never `null`.
    expectTypeOf(await xcom.pull(id, { default: null })).toEqualTypeOf<unknown>()
    const typed: Row[] | null = await xcom.pull<Row[]>(id, { default: null })
    expectTypeOf(typed).toEqualTypeOf<Row[] | null>()
    // @ts-expect-error a default that is not a Row[] needs its own type argument
    await xcom.pull<Row[]>(id, { default: 'none' })
  })

  it('pullMany types each value', async () => {
    const xcom = new XCom({ metadata: new MemoryMetadataStore() })
    expectTypeOf(await xcom.pullMany({ dagId: 'dag', runId: 'run' })).toEqualTypeOf<PulledXCom[]>()
    const rows = await xcom.pullMany<Row>({ dagId: 'dag', runId: 'run' })
    expectTypeOf(rows).toEqualTypeOf<PulledXCom<Row>[]>()
    expectTypeOf(rows[0]?.value).toEqualTypeOf<Row | undefined>()
  })
})
