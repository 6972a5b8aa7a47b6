/**
 * The export condition under which every workspace package resolves to its TypeScript sources (`src/index.ts`). The
 * same name is in tsconfig's `customConditions`, vitest's `resolve.conditions` and, through {@link sourceNodeFlags},
 * in `node --conditions` for child processes: one way to reach the sources everywhere.
 */
export const SOURCE_CONDITION = '@xcom/source'

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
const stripsByDefault = (process.features as { typescript?: unknown }).typescript === 'strip'

/** Whether this Node.js can run TypeScript files as they are (type stripping: Node.js >= 22.6). */
export const runsTypeScriptChildren = stripsByDefault || major > 22 || (major === 22 && minor >= 6)

/**
 * Flags for a `node` child process that runs this workspace's TypeScript: sources through {@link SOURCE_CONDITION},
 * and type stripping turned on where the runtime does not do it by default (Node.js 22.6 to 22.17).
 */
export function sourceNodeFlags(): string[] {
  return [`--conditions=${SOURCE_CONDITION}`, ...(stripsByDefault ? [] : ['--experimental-strip-types'])]
}
