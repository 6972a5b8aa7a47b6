#!/usr/bin/env bash
# The README's commands, on any machine with bash and npm: `bash scripts/dev.sh demo` runs the demo, `bash
# scripts/dev.sh test` every test. Provides Node.js >= 22 and pnpm when they are missing (scripts/toolchain.sh, no
# sudo), installs the workspace from its lockfile, then runs `pnpm <args>`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
pnpm install --frozen-lockfile
exec pnpm "$@"
