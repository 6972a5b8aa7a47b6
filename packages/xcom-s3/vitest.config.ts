import { mergeConfig } from 'vitest/config'
import { sharedConfig } from '../../vitest.shared.ts'

export default mergeConfig(sharedConfig, {
  test: {
    // s3rver 3.7 builds ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) only offers through
    // its legacy provider: without it every truncated listing fails with InternalError. Only the local service needs it.
    execArgv: ['--openssl-legacy-provider'],
  },
})
