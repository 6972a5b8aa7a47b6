/** Child process entry: runs s3rver with the reliability bucket, reports its endpoint over IPC, stops on 'stop'. */
import { startS3 } from './services.ts'

const server = await startS3()
process.send?.({ endpoint: server.endpoint })
process.on('message', async (message) => {
  if (message !== 'stop') return
  await server.stop()
  process.exit(0)
})
process.on('disconnect', () => process.exit(0)) // the parent died: leave nothing behind
