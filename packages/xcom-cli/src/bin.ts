#!/usr/bin/env node
import { main } from './index.ts'

// A reader that stops early (`xcom ls | head`) is not an error of xcom's.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}

// exitCode, not exit(): stdout may still be draining into a pipe.
process.exitCode = await main(process.argv)
