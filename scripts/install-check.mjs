#!/usr/bin/env node
// Install check, from packed tarballs as a user gets them:
// - every published package ships a LICENSE and its sources (source maps lead to TypeScript), and names @xcom/core as a
//   peer whose range the current core satisfies;
// - each cloud adapter installs alone with npm next to a NEWER compatible @xcom/core (the next patch): one copy of core
//   in the tree, the adapter's errors are that copy's XComError, an ESM import and a type-checked use work, and no
//   other cloud's SDK came along;
// - core alone, without its optional peer @opentelemetry/api: push, pull, clear and gc work, and a failed purge is
//   still a warning on stderr (telemetry is optional, the logs are not).
import { execFileSync, spawnSync } from 'node:child_process'
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

/** Lists a tarball's files (`package/...`). */
function filesOf(tarball) {
  return run('tar', ['-tzf', tarball], work).split('\n').filter(Boolean)
}

/** A copy of the core tarball whose version is the next patch: a newer core the adapters' peer range accepts. */
function nextPatch(tarball) {
  const dir = mkdtempSync(join(work, 'core-next-'))
  run('tar', ['-xzf', tarball, '-C', dir], work)
  const manifestPath = join(dir, 'package', 'package.json')
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
  const [major, minor, patch] = manifest.version.split('.').map(Number)
  manifest.version = `${major}.${minor}.${patch + 1}`
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2))
  const out = join(work, `xcom-core-${manifest.version}.tgz`)
  run('tar', ['-czf', out, '-C', dir, 'package'], work)
  return { tarball: out, version: manifest.version }
}

/** Every installed copy of @xcom/core under `dir`'s node_modules, as `path@version`. */
function coreCopies(dir) {
  const found = []
  const visit = (modules) => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('@')) {
        for (const name of readdirSync(join(modules, entry))) {
          const pkg = join(modules, entry, name)
          if (`${entry}/${name}` === '@xcom/core')
            found.push(`${pkg}@${JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version}`)
          visit(join(pkg, 'node_modules'))
        }
      } else if (entry !== '.bin' && !entry.startsWith('.')) visit(join(modules, entry, 'node_modules'))
    }
  }
  visit(join(dir, 'node_modules'))
  return found
}

/** What is wrong with a published package's tarball: LICENSE, sources, and its peer range on @xcom/core. */
function tarballProblems(folder, tarball, coreVersion) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8'))
  const files = filesOf(tarball)
  const problems = []
  if (!files.includes('package/LICENSE')) problems.push('no LICENSE in the tarball')
  if (!files.includes('package/src/index.ts'))
    problems.push('no src/ in the tarball (source maps lead nowhere)')
  if (manifest.name !== '@xcom/core') {
    const range = manifest.peerDependencies?.['@xcom/core']
    if (!range) problems.push('@xcom/core is not a peer dependency')
    else if (range.startsWith('workspace:')) problems.push(`the peer range of @xcom/core is ${range}`)
    else if (!satisfiesCaret(coreVersion, range))
      problems.push(`core ${coreVersion} is outside its peer range ${range}`)
    if (manifest.dependencies?.['@xcom/core'])
      problems.push('@xcom/core is also a dependency (a second copy)')
  }
  return problems
}

/** `version` against a caret range `^x.y.z` (the form the peer ranges take), with npm's 0.x rule. */
function satisfiesCaret(version, range) {
  const match = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range)
  if (!match) return false
  const [a, b, c] = match.slice(1).map(Number)
  const [x, y, z] = version.split('.').map(Number)
  if (a > 0) return x === a && (y > b || (y === b && z >= c))
  return x === 0 && y === b && z >= c
}

let failures = 0
try {
  const core = pack('xcom-core')
  const coreVersion = JSON.parse(readFileSync(join(root, 'packages/xcom-core/package.json'), 'utf8')).version
  const published = readdirSync(join(root, 'packages')).filter((folder) => {
    const manifestPath = join(root, 'packages', folder, 'package.json')
    return existsSync(manifestPath) && !JSON.parse(readFileSync(manifestPath, 'utf8')).private
  })
  for (const folder of published) {
    const problems = tarballProblems(folder, folder === 'xcom-core' ? core : pack(folder), coreVersion)
    if (problems.length === 0) console.log(`tarball ${folder}: ok (LICENSE, src, peer @xcom/core)`)
    else {
      failures++
      console.error(`tarball ${folder}: FAILED\n  ${problems.join('\n  ')}`)
    }
  }
  const newer = nextPatch(core)
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
        // The application's core is newer than the one the adapter was built with, within its peer range.
        dependencies: { '@xcom/core': `file:${newer.tarball}`, [adapter.name]: `file:${tarball}` },
        devDependencies: { '@types/node': typesNode },
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
// An error the adapter raises is the application's XComError: one copy of core, or a brand every copy shares.
let error
try { new adapter.${adapter.store}({}) } catch (caught) { error = caught }
if (!(error instanceof core.XComError) || !core.XComError.is(error, 'E_CONFIG')) process.exit(2)
`,
    )
    const problems = []
    const copies = coreCopies(dir)
    if (copies.length !== 1 || !copies[0]?.endsWith(`@${newer.version}`))
      problems.push(`expected one @xcom/core ${newer.version}, found: ${copies.join(', ') || 'none'}`)
    try {
      run('node', ['import.mjs'], dir)
    } catch (error) {
      problems.push(
        error.status === 2
          ? "the adapter's error for missing options is not the application's XComError E_CONFIG"
          : 'importing the packages from an ESM file failed',
      )
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
      console.log(
        `install check ${adapter.name} next to @xcom/core ${newer.version}: ok (${scopes.filter((s) => s.startsWith('@')).join(', ')})`,
      )
    else {
      failures++
      console.error(`install check ${adapter.name}: FAILED\n  ${problems.join('\n  ')}`)
    }
  }
  failures += coreWithoutOpenTelemetry(core)
} finally {
  rmSync(work, { recursive: true, force: true })
}
if (adapters.length === 0) console.log('install check: no cloud adapters in this tree')
process.exit(failures > 0 ? 1 : 0)

/** Installs core alone (npm leaves optional peers out) and runs the API with and without a failing purge. */
function coreWithoutOpenTelemetry(core) {
  const dir = join(work, 'core-alone')
  mkdirSync(dir)
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'core-alone',
      private: true,
      type: 'module',
      dependencies: { '@xcom/core': `file:${core}` },
    }),
  )
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir)
  writeFileSync(
    join(dir, 'use.mjs'),
    `import { BaseXComBackend, MemoryMetadataStore, XCom } from '@xcom/core'
class Outside extends BaseXComBackend {
  async serializeValue(value) { return { kind: 'reference', ref: { uri: 'outside://bucket/object' }, size: 1 } }
  async deserializeValue() { return 'outside' }
  async purge() { throw new Error('store unavailable') }
}
const id = { dagId: 'd', runId: 'r', taskId: 't' }
const xcom = new XCom({ metadata: new MemoryMetadataStore(), backend: new Outside() })
await xcom.push(id, 1)
if ((await xcom.pull(id)) !== 'outside') process.exit(1)
const report = await xcom.clear({ dagId: 'd' })
if (report.failedPurges !== 1) process.exit(2)
await xcom.gc({ graceMs: 0 })
`,
  )
  const problems = []
  if (existsSync(join(dir, 'node_modules', '@opentelemetry', 'api')))
    problems.push('@opentelemetry/api was installed with @xcom/core (it should stay an optional peer)')
  const used = spawnSync('node', ['use.mjs'], { cwd: dir, encoding: 'utf8' })
  if (used.status !== 0)
    problems.push(`the API failed without @opentelemetry/api (exit ${used.status}): ${used.stderr}`)
  else if (
    !/^xcom warn: Purging the replaced or cleared value of XCom d\/r\/t\/return_value failed/m.test(
      used.stderr,
    )
  )
    problems.push(`no warning on stderr for the failed purge (stderr: ${JSON.stringify(used.stderr)})`)
  if (problems.length === 0) {
    console.log(
      'install check @xcom/core alone, without @opentelemetry/api: ok (no telemetry, a warning for the failed purge)',
    )
    return 0
  }
  console.error(`install check @xcom/core without @opentelemetry/api: FAILED\n  ${problems.join('\n  ')}`)
  return 1
}
