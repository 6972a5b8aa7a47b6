import { describe, expect, it } from 'vitest'
import { byteChunks, checkRange, readChunks } from '../src/adapter.ts'
import { XComError } from '../src/index.ts'

const bytes = (...values: number[]) => new Uint8Array(values)

async function collect(source: AsyncIterable<Uint8Array>): Promise<number[][]> {
  const chunks: number[][] = []
  for await (const chunk of source) chunks.push([...chunk])
  return chunks
}

describe('byte helpers', () => {
  it('reads every kind of byte source as chunks', async () => {
    expect(await collect(byteChunks(bytes(1, 2)))).toEqual([[1, 2]])
    expect(await collect(byteChunks(bytes()))).toEqual([])
    expect((await collect(byteChunks(new Blob([bytes(3), bytes(4)]).stream()))).flat()).toEqual([3, 4])
    expect(
      await collect(
        byteChunks(
          (async function* () {
            yield bytes(5)
            yield bytes(6)
          })(),
        ),
      ),
    ).toEqual([[5], [6]])
  })

  it('cancels a stream read only in part', async () => {
    let cancelled = false
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(bytes(1))
      },
      cancel() {
        cancelled = true
      },
    })
    for await (const _chunk of readChunks(stream)) break
    expect(cancelled).toBe(true)
    expect(stream.locked).toBe(false)
  })

  it('checks ranges and names the URI in errors', () => {
    expect(checkRange(undefined, 'u')).toBeUndefined()
    expect(checkRange({ start: 2 }, 'u')).toEqual({ start: 2, end: undefined })
    expect(checkRange({ start: 2, end: 2 }, 'u')).toEqual({ start: 2, end: 2 })
    for (const range of [
      { start: -1 },
      { start: 3, end: 2 },
      { start: 1.5 },
      { start: 0, end: Number.NaN },
    ]) {
      let error: unknown
      try {
        checkRange(range, 'memory://b/k')
      } catch (caught) {
        error = caught
      }
      expect(XComError.is(error, 'E_INVALID_KEY')).toBe(true)
      expect((error as XComError).uri).toBe('memory://b/k')
    }
  })
})
