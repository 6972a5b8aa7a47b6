/** Options of {@link requireServiceOrSkip}. */
export interface RequireServiceOptions {
  /**
   * Whether this run is CI, where a service that cannot start must fail the run.
   * @default `process.env.CI` is `'true'` or `'1'`
   */
  ci?: boolean
  /**
   * Where the loud local warning goes.
   * @default console.warn
   */
  warn?: (message: string) => void
}

/**
 * Whether `env` describes a CI run (`CI=true` or `CI=1`).
 *
 * @param env - the environment to read
 * @default env `process.env`
 */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.toLowerCase()
  return value === 'true' || value === '1'
}

/**
 * Starts a service for a test file, applying the project policy for missing services: under CI the failure is
 * thrown (the tests fail); locally a loud warning is printed and `undefined` is returned so the caller skips.
 *
 * @example
 * ```ts
 * let s3: S3rverHandle | undefined
 * beforeAll(async () => { s3 = await requireServiceOrSkip('s3rver', () => startS3rver()) })
 * afterAll(() => s3?.stop())
 * it('round-trips', (ctx) => { if (!s3) return ctx.skip(); ... })
 * ```
 * @param name - the service's name, for messages (e.g. `'azurite'`)
 * @param start - starts the service and resolves to its handle
 * @param options - CI detection and warning sink
 * @returns the handle, or `undefined` when the service could not start outside CI
 * @throws Error (with the start failure as `cause`) when the service cannot start under CI
 */
export async function requireServiceOrSkip<T>(
  name: string,
  start: () => Promise<T>,
  options: RequireServiceOptions = {},
): Promise<T | undefined> {
  try {
    return await start()
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    if (options.ci ?? isCi()) {
      throw new Error(
        `The test service "${name}" could not start (${reason}). CI=true requires every service: fix the ` +
          'environment (install dependencies, free the port, check the logs above) instead of skipping.',
        { cause: error },
      )
    }
    const warn = options.warn ?? console.warn
    warn(
      `\n${'!'.repeat(78)}\n!! SKIPPING tests that need "${name}": it could not start (${reason}).\n` +
        `!! These tests did NOT run. Under CI=true this is a failure.\n${'!'.repeat(78)}\n`,
    )
    return undefined
  }
}
