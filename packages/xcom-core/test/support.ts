// Fixtures shared by the serializer tests.
import { expect } from 'vitest'
import { XComError, type XComErrorCode } from '../src/errors.ts'

/** Runs `fn`, which must throw an XComError with `code`, and returns that error. */
export function thrown(code: XComErrorCode, fn: () => unknown): XComError {
  try {
    fn()
  } catch (error) {
    if (!XComError.is(error)) throw error
    expect(error.code, error.message).toBe(code)
    return error
  }
  throw new Error(`expected an XComError ${code}, nothing was thrown`)
}

/**
 * A class that serializes itself, at version 2: `{ x, y }` numbers. Version 1 stored them swapped, so reading a
 * version-1 value shows the upgrade path; anything but two numbers is refused.
 */
export class Point {
  static readonly xcomClassname = 'geo.Point'
  static readonly xcomVersion = 2
  readonly x: number
  readonly y: number
  constructor(x: number, y: number) {
    this.x = x
    this.y = y
  }
  serialize() {
    return { x: this.x, y: this.y }
  }
  static deserialize(data: unknown, version: number): Point {
    const { x, y } = data as { x: unknown; y: unknown }
    if (typeof x !== 'number' || typeof y !== 'number') throw new TypeError('a Point needs numbers x and y')
    return version === 1 ? new Point(y, x) : new Point(x, y)
  }
}

/** Object keys that are the envelope's own fields or that reach prototypes: what decoders must treat as plain data. */
export const DANGEROUS_KEYS = [
  '__classname__',
  '__version__',
  '__data__',
  '__proto__',
  'constructor',
  'prototype',
] as const
