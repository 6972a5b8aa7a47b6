import { MemoryMetadataStore } from '@xcom/core'
import { describeMetadataStore } from '../src/index.ts'

describeMetadataStore('MemoryMetadataStore', () => new MemoryMetadataStore())
