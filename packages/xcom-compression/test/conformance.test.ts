import { describeCodec } from '@xcom/testing'
import { deflate, gzip, none, zip, zstd } from '../src/index.js'

// Every codec, on both implementations where it has two, passes the published conformance suite.
describeCodec('gzip (native, level 6)', () => gzip())
describeCodec('gzip (native, level 1)', () => gzip({ level: 1 }))
describeCodec('gzip (portable)', () => gzip({ implementation: 'portable' }))
describeCodec('deflate (native)', () => deflate())
describeCodec('deflate (portable)', () => deflate({ implementation: 'portable' }))
describeCodec('zip (native)', () => zip())
describeCodec('zip (portable)', () => zip({ implementation: 'portable' }))
describeCodec('zstd', () => zstd())
describeCodec('none', () => none(), { compresses: false, verifiesIntegrity: false })
