#!/usr/bin/env bash
# One self-contained Linux x64 executable (docs/packaging.md, option a).
# --no-compile-autoload-dotenv / --no-compile-autoload-bunfig: without them a .env in the user's working
# directory would silently change AWS credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
# --splitting: the lazily imported parts (Ink and React for the TUI, @kubernetes/client-node, the simulator of
# `demo`) become chunks inside the executable, loaded only when imported: measured 57.8 -> 47.2 MiB peak RSS
# for --version and 100 -> 88 MiB for a full TUI run without Kubernetes access (docs/benchmarks.md).
# --compile-jit-policy=100: JavaScriptCore tiers a function up to its JIT compilers after 100 times the usual
# number of calls and loop iterations. A run lasts a fraction of a second, so the machine code and the
# profiling data the JIT would build are mostly never used: measured -9 to -11 MiB peak RSS for the TUI with
# Kubernetes API access, and less user CPU, not more (docs/benchmarks.md).
exec node_modules/.bin/bun build src/cli.ts \
  --compile --minify --bytecode --format=esm --splitting \
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig --compile-jit-policy=100 \
  --outfile dist/irsa-doctor "$@"
