import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { SerializerRegistry, XCom } from '../src/index.ts'
import { MyBackend } from './fixtures/my-backend.ts'

const id = { dagId: 'etl', runId: 'r1', taskId: 'extract' }
const backendFile = fileURLToPath(new URL('./fixtures/my-backend.ts', import.meta.url))

describe("the README's own backend", () => {
  it('is the code of the fixture', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Write your own backend'))
    const code = section.slice(
      section.indexOf('```ts\n') + 6,
      section.indexOf('```\n', section.indexOf('```ts\n') + 6),
    )
    const fixture = readFileSync(backendFile, 'utf8')
    expect(code).toBe(fixture.slice(fixture.indexOf('\n') + 1))
  })

  it('is loaded by XCOM_BACKEND and keeps, reads, displays and purges its files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xcom-own-'))
    const xcom = await XCom.fromEnv({
      XCOM_METADATA_URL: 'memory://',
      XCOM_BACKEND: `${backendFile}#MyBackend`,
      MY_BACKEND_DIR: dir,
    })
    try {
      expect(xcom.backend).toBeInstanceOf(MyBackend)
      const long = 'x'.repeat(1000)
      const record = await xcom.push(id, long)
      expect(record.value.kind).toBe('reference')
      const file = join(dir, `${record.id}.json`)
      expect(existsSync(file)).toBe(true)
      expect(await xcom.pull<string>(id)).toBe(long)
      expect(xcom.display(record)).toBe(`file://${file} (1000 characters)`)
      await xcom.push({ ...id, key: 'small' }, { rows: 3 })
      const { records } = await xcom.list({ dagId: 'etl' })
      expect(records.map((row) => xcom.display(row))).toEqual([
        `file://${file} (1000 characters)`,
        '{"rows":3}',
      ])
      expect(await xcom.clear({ dagId: 'etl' })).toEqual({ deleted: 2, purged: 1, failedPurges: 0 })
      expect(existsSync(file)).toBe(false)
    } finally {
      await xcom.close()
    }
    const serializer = new SerializerRegistry()
    const given = await XCom.fromEnv(
      { XCOM_METADATA_URL: 'memory://', XCOM_BACKEND: `${backendFile}#MyBackend` },
      { serializer },
    )
    expect((given.backend as MyBackend).serializer).toBe(serializer)
    await given.close()
  })
})
