import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeObjectStore } from '@xcom/testing'
import { FileObjectStore, MemoryObjectStore, ReplicatedObjectStore } from '../src/index.ts'

const roots: string[] = []
const tempRoot = () => {
  const root = mkdtempSync(join(tmpdir(), 'xcom-conformance-'))
  roots.push(root)
  return root
}
const removeRoots = () => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true })
}

describeObjectStore('MemoryObjectStore', ({ pageSize }) => new MemoryObjectStore({ pageSize }))

describeObjectStore('FileObjectStore', () => new FileObjectStore({ root: tempRoot() }), {
  teardown: removeRoots,
})

describeObjectStore(
  'ReplicatedObjectStore(file, memory)',
  ({ pageSize }) =>
    new ReplicatedObjectStore([
      new FileObjectStore({ root: tempRoot() }),
      new MemoryObjectStore({ pageSize }),
    ]),
  { teardown: removeRoots },
)
