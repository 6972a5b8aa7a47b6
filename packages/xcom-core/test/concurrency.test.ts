import { describe, expect, it } from 'vitest'
import { mapLimit, settle } from '../src/adapter.ts'

describe('mapLimit', () => {
  it('keeps the order and never runs more than the limit at once', async () => {
    let running = 0
    let peak = 0
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++
      peak = Math.max(peak, running)
      await new Promise((resolve) => setTimeout(resolve, n))
      running--
      return n * 10
    })
    expect(results).toEqual([50, 10, 40, 20, 30])
    expect(peak).toBe(2)
  })

  it('maps nothing to nothing and rejects with the first failure', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([])
    await expect(
      mapLimit([1, 2, 3], 3, async (n) => {
        if (n === 2) throw new Error('two')
        return n
      }),
    ).rejects.toThrow('two')
  })
})

describe('settle', () => {
  it('returns the value or the thrown error', async () => {
    expect(await settle(async () => 7)).toEqual({ ok: true, value: 7 })
    const error = new Error('boom')
    expect(await settle(() => Promise.reject(error))).toEqual({ ok: false, error })
  })
})
