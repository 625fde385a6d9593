#!/usr/bin/env bash
# Builds the executables and the npm bundle (docs/packaging.md, option a):
#
#   bash scripts/build.sh [native] [linux-x64] [linux-arm64] [npm]      (default: native)
#
#   native        dist/irsa-doctor, for this machine: what the tests, the demo and the README's commands run
#   linux-x64     dist/irsa-doctor-linux-x64, cross-compiled: the release and the image
#   linux-arm64   dist/irsa-doctor-linux-arm64, cross-compiled: the release, the image, the tests under qemu
#   npm           dist/npm/, the ESM bundle for Node that the npm package's bin runs (npx irsa-doctor)
#
# `npm test` builds native, linux-arm64 and npm; `npm run release` linux-x64, linux-arm64 and npm. The
# cross-compiled executables embed the Bun runtime package-lock.json pins, checked against its integrity
# (scripts/bun-runtime.mjs, which fetches it once with npm pack), never one Bun downloads by itself.
# DIST=DIR writes there instead of dist/ (the release test builds a release of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
BUN="$PWD/node_modules/.bin/bun"
DIST="${DIST:-dist}"
mkdir -p "$DIST"

# --no-compile-autoload-dotenv / --no-compile-autoload-bunfig: without them a .env in the user's working
# directory would silently change AWS credentials.
# --splitting: the lazily imported parts (Ink and React for the TUI, @kubernetes/client-node, the simulator of
# `demo`) become chunks inside the executable, loaded only when imported: measured 57.8 -> 47.2 MiB peak RSS
# for --version and 100 -> 88 MiB for a full TUI run without Kubernetes access (docs/benchmarks.md).
# --compile-jit-policy=100: JavaScriptCore tiers a function up to its JIT compilers after 100 times the usual
# number of calls and loop iterations. A run lasts a fraction of a second, so the machine code and the
# profiling data the JIT would build are mostly never used: measured -9 to -11 MiB peak RSS for the TUI with
# Kubernetes API access, and less user CPU, not more (docs/benchmarks.md).
COMPILE=(
  build src/cli.ts --compile --minify --bytecode --format=esm --splitting
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig --compile-jit-policy=100
)

cross() {
  local arch="$1" runtime
  runtime="$(node scripts/bun-runtime.mjs "$arch")"
  mkdir -p "$DIST/meta"
  # The metafile lists the packages bundled in, for the release's THIRD-PARTY-NOTICES.txt.
  "$BUN" "${COMPILE[@]}" --target="bun-linux-$arch" --compile-executable-path="$runtime" \
    --metafile="$DIST/meta/linux-$arch.json" --outfile "$DIST/irsa-doctor-linux-$arch"
}

npm_bundle() {
  rm -rf "$DIST/npm"
  mkdir -p "$DIST/meta"
  # --target=node: Node's module resolution and builtins; the same code runs (src/cli.ts checks the version).
  "$BUN" build src/cli.ts --target=node --format=esm --splitting --minify --outdir "$DIST/npm" \
    --entry-naming=irsa-doctor.mjs --chunk-naming='chunks/[name]-[hash].mjs' --metafile="$DIST/meta/npm.json"
  # The package redistributes the code it bundles: their licences travel with it.
  node scripts/third-party-notices.mjs "$DIST/meta/npm.json" >"$DIST/npm/THIRD-PARTY-NOTICES.txt"
  # A second bin with the plugin's name, so that argv[1] names it even where npm's bin is a .cmd shim
  # (Windows): src/cli/program.ts then calls it `kubectl irsa-doctor` in the help.
  printf '%s\n' '#!/usr/bin/env node' "import './irsa-doctor.mjs';" >"$DIST/npm/kubectl-irsa_doctor.mjs"
  chmod 755 "$DIST/npm/irsa-doctor.mjs" "$DIST/npm/kubectl-irsa_doctor.mjs"
}

[[ $# -gt 0 ]] || set -- native
for what in "$@"; do
  case "$what" in
    native) "$BUN" "${COMPILE[@]}" --outfile "$DIST/irsa-doctor" ;;
    linux-x64) cross x64 ;;
    linux-arm64) cross arm64 ;;
    npm) npm_bundle ;;
    *)
      echo "build.sh: unknown target '$what' (native, linux-x64, linux-arm64, npm)" >&2
      exit 2
      ;;
  esac
done
