import { describeMetadataStore } from '@xcom/testing'
import { PostgresMetadataStore } from '../src/index.ts'
import { describePostgres, dropSchema, newSchemaName, POSTGRES_URL } from './support/postgres.ts'

describePostgres('PostgresMetadataStore', () => {
  const schemas: string[] = []
  const password = new URL(POSTGRES_URL).password
  describeMetadataStore(
    'PostgresMetadataStore',
    () => {
      const schema = newSchemaName()
      schemas.push(schema)
      return new PostgresMetadataStore({ connectionString: POSTGRES_URL, schema })
    },
    {
      reopen: (store) =>
        new PostgresMetadataStore({
          connectionString: POSTGRES_URL,
          schema: (store as PostgresMetadataStore).schema,
        }),
      secrets: password ? [password] : [],
      cleanup: async () => {
        for (const schema of schemas.splice(0)) await dropSchema(schema)
      },
    },
  )
})
