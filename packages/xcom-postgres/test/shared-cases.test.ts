import { describeSqlMetadataStore } from '@xcom/testing'
import { describePostgres, postgresHarness } from './support/postgres.ts'

/** How row `b` (a reference) is damaged beyond the suite's own cases, and whether its value can still be decoded. */
const ROWS = [
  { set: `ref = to_jsonb('{"uri": "memory://x"}'::text)`, malformed: true },
  { set: "ref = 'null'::jsonb", malformed: true },
  { set: "ref = (repeat('[', 2000) || repeat(']', 2000))::jsonb", malformed: true },
  { set: "created_at = 'infinity'", malformed: false },
  { set: "created_at = '-infinity'", malformed: false },
  { set: "created_at = '294276-12-31'", malformed: false },
  { set: "created_at = '4713-01-01 BC'", malformed: false },
  { set: "expires_at = 'infinity'", malformed: false },
  { set: "expires_at = '-infinity'", malformed: false },
  { set: "expires_at = '294276-12-31'", malformed: false },
]

describePostgres('PostgresMetadataStore', () => {
  describeSqlMetadataStore('PostgresMetadataStore', postgresHarness, {
    rows: ROWS,
    purges: [
      `'p1', 'd', 'r', 't', -1, 'k', 'reference', '"text"', 1, now(), 'infinity'`,
      `'p2', 'd', 'r', 't', 9223372036854775807, 'k', 'reference', '{"uri":"u"}', -1, '-infinity', '294276-12-31'`,
      `'p3', 'd', 'r', 't', -1, 'k', 'reference', NULL, 1, now(), now()`,
    ],
    // Map indexes beyond 2^53, which core's cursor cannot carry exactly.
    keys: [
      "UPDATE xcom_record SET map_index = 9007199254740993 WHERE task_id = 'b'",
      "UPDATE xcom_record SET map_index = 9223372036854775807 WHERE task_id = 'c'",
      "UPDATE xcom_record SET task_id = 'b', map_index = 9007199254740992 WHERE task_id = 'd'",
    ],
    invalidCursors: [{ k: ['a', 'b', 'c', '1.5', 'd'] }, { k: ['a', 'b', 'c', '1'] }],
  })
})
