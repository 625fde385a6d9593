#!/usr/bin/env bash
# One self-contained Linux x64 executable (reference/packaging.md, option a).
# --no-compile-autoload-dotenv / --no-compile-autoload-bunfig: without them a .env in the user's working
# directory would silently change AWS credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
exec bun build src/cli.ts \
  --compile --minify --bytecode --format=esm \
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
  --outfile dist/irsa-doctor "$@"
