import { describeMetadataStore } from '@xcom/testing'
import { PostgresMetadataStore } from '../src/index.js'
import { describePostgres, dropSchema, newSchemaName, POSTGRES_URL } from './support/postgres.js'

describePostgres('PostgresMetadataStore', () => {
  let schema = ''
  describeMetadataStore(
    'PostgresMetadataStore',
    () => {
      schema = newSchemaName()
      return new PostgresMetadataStore({ connectionString: POSTGRES_URL, schema })
    },
    { cleanup: () => dropSchema(schema) },
  )
})
