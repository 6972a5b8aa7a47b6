export { createSerializer, DEFAULT_MAX_DEPTH, DEFAULT_MAX_SIZE, SerializerRegistry } from './registry.ts'
export type { CustomSerializer, SerializableClass, SerializerOptions } from './types.ts'
