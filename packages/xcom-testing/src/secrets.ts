import { inspect } from 'node:util'
import { expect } from 'vitest'

/** Every error of a cause chain, `error` first (cycles cut). */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = []
  for (let current = error; current !== undefined && current !== null && !chain.includes(current); ) {
    chain.push(current)
    current = (current as { cause?: unknown }).cause
  }
  return chain
}

/**
 * Asserts that none of `secrets` appears in an error or anywhere in its cause chain: messages, stacks, string and
 * JSON forms, and the chain inspected with hidden fields (SDK errors keep raw responses there).
 */
export function expectNoSecrets(error: unknown, secrets: readonly string[]): void {
  const texts = causeChain(error).flatMap((entry) => {
    const { message, stack } = (entry ?? {}) as { message?: unknown; stack?: unknown }
    return [String(message), String(stack), String(entry), JSON.stringify(entry) ?? '']
  })
  texts.push(inspect(error, { depth: 12, showHidden: true }))
  for (const secret of secrets) {
    expect(secret.length, 'a secret to look for').toBeGreaterThan(3)
    for (const text of texts) expect(text).not.toContain(secret)
  }
}
