import { describeMetadataStore } from '@xcom/testing'
import { MemoryMetadataStore } from '../src/index.ts'

describeMetadataStore('MemoryMetadataStore', () => new MemoryMetadataStore())
