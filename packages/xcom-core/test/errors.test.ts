import { describe, expect, it } from 'vitest'
import { XComError } from '../src/errors.ts'

describe('XComError across copies of @xcom/core', () => {
  it('is recognised by its registered brand, by is() and by instanceof, whichever copy made it', async () => {
    // A second module instance of the same file: what a nested, second copy of @xcom/core gives an application.
    // @ts-expect-error: the query string makes vite load the file again; TypeScript knows no such module.
    const other = (await import('../src/errors.ts?copy')) as typeof import('../src/errors.ts')
    expect(other.XComError).not.toBe(XComError)
    const foreign = new other.XComError('E_NOT_FOUND', 'made by the other copy')
    expect(foreign instanceof XComError).toBe(true)
    expect(XComError.is(foreign, 'E_NOT_FOUND')).toBe(true)
    expect(XComError.is(foreign, 'E_CONFIG')).toBe(false)
    expect(new XComError('E_CONFIG', 'made here') instanceof other.XComError).toBe(true)
  })

  it('is not fooled by an error that only borrows its name and code', () => {
    const impostor = Object.assign(new Error('not one'), { name: 'XComError', code: 'E_NOT_FOUND' })
    expect(XComError.is(impostor)).toBe(false)
    expect(impostor instanceof XComError).toBe(false)
    expect(XComError.is({ code: 'E_NOT_FOUND' })).toBe(false)
    expect(XComError.is(null)).toBe(false)
  })

  it('leaves subclasses their ordinary instanceof', () => {
    class Special extends XComError {}
    expect(new Special('E_BACKEND', 'x') instanceof Special).toBe(true)
    expect(new Special('E_BACKEND', 'x') instanceof XComError).toBe(true)
    expect(new XComError('E_BACKEND', 'x') instanceof Special).toBe(false)
  })
})

describe('XComError printed', () => {
  it('shows no field that does not apply, and no "undefined" for a failure without a message', async () => {
    const { inspect } = await import('node:util')
    const error = new XComError('E_CONFIG', 'bad', { uri: undefined, path: undefined })
    expect(Object.keys(error)).not.toContain('path')
    expect(inspect(error)).not.toContain('undefined')
    expect(new XComError('E_CORRUPT', 'x', { path: 'value.a' }).path).toBe('value.a')
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const file = join(mkdtempSync(join(tmpdir(), 'xcom-throws-')), 'throws.mjs')
    writeFileSync(file, "throw 'no message here'\n")
    const { importModule } = await import('../src/config.ts')
    const failed = await importModule(file, 'XCOM_BACKEND').catch((caught: XComError) => caught)
    expect(failed.message).toContain('no message here')
    expect(failed.message).not.toContain('undefined')
    expect(inspect(failed)).not.toMatch(/(path|uri|xcom): undefined/)
  })
})
