export * from './children.ts'
export * from './codec.ts'
export * from './concurrency.ts'
export * from './damaged-rows.ts'
export * from './damaged-rows-fuzz.ts'
export { isInjectedFault } from './faults/errors.ts'
export { faultyMetadataStore } from './faults/metadata-store.ts'
export { faultyObjectStore } from './faults/object-store.ts'
export {
  FAULT_KINDS,
  FAULT_OPERATIONS,
  type FaultKind,
  type FaultMethod,
  type FaultOperation,
  type FaultOptions,
  FaultPlan,
  faultKindsOf,
  faults,
  type InjectedFault,
  type PerOperation,
} from './faults/plan.ts'
export * from './key-safety.ts'
export * from './metadata-store.ts'
export * from './object-store.ts'
export * from './round-trips.ts'
export * from './secrets.ts'
export type { SqlStoreHarness } from './sql-harness.ts'
export * from './sql-store-cases.ts'
export * from './test-data.ts'
