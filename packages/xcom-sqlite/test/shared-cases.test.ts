import { describeSqlMetadataStore } from '@xcom/testing'
import { sqliteHarness } from './support.ts'

/** How row `b` (a reference) is damaged beyond the suite's own cases, and whether its value can still be decoded. */
const ROWS = [
  { set: "ref = '{not json'", malformed: true },
  { set: "ref = x'7b7d'", malformed: true },
  { set: "ref = CAST(x'ff7b' AS TEXT)", malformed: true },
  { set: "kind = x'01'", malformed: true },
  { set: "kind = 'inline', ref = NULL, data = x'00'", malformed: true },
  { set: "size = 'abc'", malformed: true },
  { set: "size = '0x10'", malformed: true },
  { set: 'size = 1.5', malformed: true },
  { set: "size = x'05'", malformed: true },
  { set: "map_index = 'abc'", malformed: true },
  { set: 'map_index = 2.5', malformed: true },
  { set: "map_index = x'03'", malformed: true },
  { set: "id = x'ff'", malformed: true },
  { set: "task_id = x'62'", malformed: true },
  { set: "dag_id = x'00'", malformed: true },
  { set: "id = CAST(x'ff00' AS TEXT)", malformed: false },
  { set: "key = CAST(x'c3' AS TEXT)", malformed: false },
  { set: "created_at = 'yesterday'", malformed: false },
  { set: "created_at = x'00'", malformed: false },
  { set: 'created_at = 9223372036854775807', malformed: false },
  { set: 'created_at = 1e308', malformed: false },
  { set: "expires_at = 'soon'", malformed: false },
  { set: "expires_at = x'00'", malformed: false },
  { set: 'expires_at = -9223372036854775808', malformed: false },
]

describeSqlMetadataStore('SqliteMetadataStore', sqliteHarness, {
  rows: ROWS,
  purges: [
    `NULL, 'd', 'r', 't', -1, 'k', 'reference', '{"uri":"u"}', 1, 1, 5`,
    `x'00ff', 'd', 'r', 't', -1, 'k', 'reference', '{"uri":"u"}', 1, 1, 'later'`,
    `CAST(x'ff' AS TEXT), 'd', 'r', 't', -1, 'k', 'reference', '{"uri":"u"}', 1, 1, x'00'`,
    `'plain', x'01', 'r', 't', 9223372036854775807, 'k', 'reference', '{}', 'many', 'then', 9223372036854775807`,
  ],
  unreadablePurgeIds: 3,
  // A key read back changed (invalid UTF-8), a real or text map index, a blob dagId: cursors carry them typed.
  keys: [
    "UPDATE xcom_record SET task_id = CAST(x'62ff' AS TEXT) WHERE task_id = 'b'",
    "UPDATE xcom_record SET map_index = 1.25 WHERE task_id = 'c'",
    "UPDATE xcom_record SET dag_id = x'00' WHERE task_id = 'd'",
    "UPDATE xcom_record SET key = 'k', map_index = 'text' WHERE task_id = 'e'",
  ],
  invalidCursors: [{ k: [['text', 'zz']] }, { k: [1, 2, 3, 4, 5] }, { k: Array(5).fill(['real', '00']) }],
  identityIds: ["x'00'"],
})
