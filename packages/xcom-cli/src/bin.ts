#!/usr/bin/env node
import { main } from './index.ts'

// exitCode, not exit(): stdout may still be draining into a pipe.
process.exitCode = await main(process.argv)
