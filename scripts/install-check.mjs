#!/usr/bin/env node
// Install check: for each cloud adapter, pack @xcom/core and the adapter, install the tarballs into an empty folder
// with npm, import them from an ESM file, type-check a small use of them, and make sure no other cloud's SDK came along.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const adapters = [
  {
    folder: 'xcom-s3',
    name: '@xcom/s3',
    store: 'S3ObjectStore',
    options: "{ bucket: 'my-bucket', prefix: 'xcom', region: 'us-east-1' }",
    forbidden: ['@google-cloud', '@azure'],
  },
  {
    folder: 'xcom-gcs',
    name: '@xcom/gcs',
    store: 'GcsObjectStore',
    options: "{ bucket: 'my-bucket', prefix: 'xcom', projectId: 'p' }",
    forbidden: ['@aws-sdk', '@azure'],
  },
  {
    folder: 'xcom-azure',
    name: '@xcom/azure',
    store: 'AzureBlobObjectStore',
    options: "{ container: 'xcom', connectionString: 'UseDevelopmentStorage=true' }",
    forbidden: ['@aws-sdk', '@google-cloud'],
  },
].filter((adapter) => existsSync(join(root, 'packages', adapter.folder, 'package.json')))

const work = mkdtempSync(join(tmpdir(), 'xcom-install-check-'))
const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })

function pack(folder) {
  const out = join(work, 'tarballs')
  mkdirSync(out, { recursive: true })
  run('pnpm', ['pack', '--pack-destination', out], join(root, 'packages', folder))
  const name = JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8'))
    .name.replace('@', '')
    .replace('/', '-')
  const tarball = readdirSync(out).find((file) => file.startsWith(`${name}-`) && file.endsWith('.tgz'))
  if (!tarball) throw new Error(`pnpm pack produced no tarball for ${folder}`)
  return join(out, tarball)
}

let failures = 0
try {
  const core = pack('xcom-core')
  const typesNode = JSON.parse(
    readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8'),
  ).version
  for (const adapter of adapters) {
    const dir = join(work, adapter.folder)
    mkdirSync(dir)
    const tarball = pack(adapter.folder)
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'install-check',
        private: true,
        type: 'module',
        dependencies: { '@xcom/core': `file:${core}`, [adapter.name]: `file:${tarball}` },
        devDependencies: { '@types/node': typesNode },
        // The adapter's own @xcom/core dependency must be the packed one, never a registry lookup.
        overrides: { '@xcom/core': `file:${core}` },
      }),
    )
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir)
    writeFileSync(
      join(dir, 'use.ts'),
      `import { MemoryMetadataStore, type ObjectStore, XCom, XComError } from '@xcom/core'
import { ${adapter.store}, objectStoreFactory } from '${adapter.name}'
const store: ObjectStore = new ${adapter.store}(${adapter.options})
const xcom = new XCom({ metadata: new MemoryMetadataStore() })
const url: string = store.url
export { objectStoreFactory, url, xcom, XComError }
`,
    )
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2024',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          lib: ['ES2024', 'DOM'],
          types: ['node'],
        },
        files: ['use.ts'],
      }),
    )
    writeFileSync(
      join(dir, 'import.mjs'),
      `import * as core from '@xcom/core'
import * as adapter from '${adapter.name}'
if (typeof core.XCom !== 'function' || typeof adapter.${adapter.store} !== 'function' || typeof adapter.objectStoreFactory !== 'function') process.exit(1)
`,
    )
    const problems = []
    try {
      run('node', ['import.mjs'], dir)
    } catch {
      problems.push('importing the packages from an ESM file failed')
    }
    try {
      run('node', [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir)
    } catch (error) {
      problems.push(`type-checking a use of the packages failed:\n${error.stdout ?? ''}`)
    }
    const scopes = readdirSync(join(dir, 'node_modules'))
    for (const scope of adapter.forbidden)
      if (scopes.includes(scope)) problems.push(`${scope}/* was installed with ${adapter.name}`)
    if (problems.length === 0)
      console.log(`install check ${adapter.name}: ok (${scopes.filter((s) => s.startsWith('@')).join(', ')})`)
    else {
      failures++
      console.error(`install check ${adapter.name}: FAILED\n  ${problems.join('\n  ')}`)
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
if (adapters.length === 0) console.log('install check: no cloud adapters in this tree')
process.exit(failures > 0 ? 1 : 0)
