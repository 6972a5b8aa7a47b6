import { afterEach, describe, expect, it, vi } from 'vitest'
import { compareTransfers } from '../src/bench.ts'

describe('compareTransfers', () => {
  afterEach(() => vi.restoreAllMocks())

  it('warms up and then runs every side once per round, in turn, and reports medians and ratios', async () => {
    const calls: string[] = []
    const lines: string[] = []
    vi.spyOn(console, 'log').mockImplementation((line: string) => lines.push(line))
    const side = (name: string, ms: number) => ({
      label: `side ${name}`,
      push: async () => {
        calls.push(`${name}.push`)
        await new Promise((resolve) => setTimeout(resolve, ms))
      },
      pull: async () => {
        calls.push(`${name}.pull`)
        return new Uint8Array(1024 * 1024)
      },
    })
    const report = await compareTransfers({
      title: 'test',
      size: 1024 * 1024,
      rounds: 3,
      subject: 'fast',
      target: 0.9,
      sides: { slow: side('slow', 60), fast: side('fast', 5) },
    })
    expect(calls).toEqual(Array(4).fill(['slow.push', 'slow.pull', 'fast.push', 'fast.pull']).flat())
    expect(report.slow.ratio).toBe(1)
    expect(report.fast.ratio).toBeGreaterThan(1)
    expect(report.slow.push).toBeGreaterThanOrEqual(55)
    expect(report.slow.total).toBeGreaterThanOrEqual(report.slow.push)
    expect(lines[0]).toBe('test, median of 3 interleaved rounds')
    expect(lines.at(-1)).toMatch(/ratio side slow \/ side fast: \d+\.\d\d \(target >= 0\.9\) met$/)
  })

  it('fails when a side reads back another size than was written', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {})
    const side = (bytes: number) => ({
      label: `reads ${bytes}`,
      push: async () => {},
      pull: async () => new Uint8Array(bytes),
    })
    await expect(
      compareTransfers({
        title: 't',
        size: 10,
        rounds: 1,
        subject: 'short',
        target: 0.9,
        sides: { ok: side(10), short: side(9) },
      }),
    ).rejects.toThrowError('reads 9 read back 9 bytes where 10 were written')
  })
})
