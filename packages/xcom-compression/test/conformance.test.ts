import * as nodeZlib from 'node:zlib'
import { describeCodec } from '@xcom/testing'
import { describe } from 'vitest'
import { deflate, gzip, isZstdAvailable, none, zip, zstd } from '../src/index.ts'
import { nativeZstd } from '../src/zstd.ts'

// Every codec, on both implementations where it has two, passes the published conformance suite.
describeCodec('gzip (native, level 6)', () => gzip())
describeCodec('gzip (native, level 1)', () => gzip({ level: 1 }))
describeCodec('gzip (portable)', () => gzip({ implementation: 'portable' }))
describeCodec('deflate (native)', () => deflate())
describeCodec('deflate (portable)', () => deflate({ implementation: 'portable' }))
describeCodec('zip (native)', () => zip())
describeCodec('zip (portable)', () => zip({ implementation: 'portable' }))
describe.skipIf(!isZstdAvailable())('zstd (node:zlib >= 22.15)', () => {
  describeCodec('zstd', () => zstd())
  // What zstd() runs on a Node.js whose decoder stops after one frame, forced so that it is tested on every version.
  describeCodec('zstd (one engine per frame)', () => nativeZstd(nodeZlib, 3, 'apart'))
})
describeCodec('none', () => none(), { compresses: false, verifiesIntegrity: false })
