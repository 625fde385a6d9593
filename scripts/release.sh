#!/usr/bin/env bash
# npm run release: the release's files in dist/ (docs/releasing.md), checked by test/e2e/release.test.ts.
#
#   irsa-doctor-linux-x64, irsa-doctor-linux-arm64     the executables (Linux, glibc >= 2.17)
#   kubectl-irsa_doctor-linux-{amd64,arm64}.tar.gz     the same as kubectl plugins, for krew
#   irsa-doctor-VERSION.tgz                            the npm package (npm pack; bin = the Node bundle)
#   THIRD-PARTY-NOTICES.txt                            the licences of what the executables bundle
#   SHA256SUMS                                         sha256sum of every file above (sha256sum -c SHA256SUMS)
#   irsa-doctor.krew.yaml                              examples/krew/irsa-doctor.yaml, filled in
#
# IRSA_DOCTOR_RELEASE_URL: where these files will be downloadable (the krew manifest's uri); without it the
# manifest keeps the {{RELEASE_URL}} placeholder. Archives are reproducible: sorted, owner 0, mtime of the last
# commit (SOURCE_DATE_EPOCH when set), gzip without a name or time stamp. DIST=DIR releases there, not dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="$(node -p 'require("./package.json").version')"
EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export DIST="${DIST:-dist}"

bash scripts/build.sh linux-x64 linux-arm64 npm
node scripts/third-party-notices.mjs "$DIST/meta/linux-x64.json" --runtime >"$DIST/THIRD-PARTY-NOTICES.txt"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
for arch in x64 arm64; do
  krew_arch="$([[ "$arch" == x64 ]] && echo amd64 || echo arm64)"
  rm -rf "${stage:?}"/*
  cp "$DIST/irsa-doctor-linux-$arch" "$stage/kubectl-irsa_doctor"
  cp LICENSE "$DIST/THIRD-PARTY-NOTICES.txt" "$stage/"
  chmod 755 "$stage/kubectl-irsa_doctor"
  chmod 644 "$stage/LICENSE" "$stage/THIRD-PARTY-NOTICES.txt"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -C "$stage" \
    -cf - kubectl-irsa_doctor LICENSE THIRD-PARTY-NOTICES.txt | gzip -n -6 >"$DIST/kubectl-irsa_doctor-linux-$krew_arch.tar.gz"
done

# The npm package, packed from a copy holding exactly what it ships (package.json's files, plus the README,
# LICENSE and package.json npm always adds), with the bundle built above: no prepack rebuild.
rm -rf "${stage:?}"/*
mkdir -p "$stage/dist"
cp package.json README.md LICENSE "$stage/"
cp -R "$DIST/npm" "$stage/dist/npm"
rm -f "$DIST/irsa-doctor-$VERSION.tgz"
(cd "$stage" && npm pack --ignore-scripts --silent >/dev/null)
mv "$stage/irsa-doctor-$VERSION.tgz" "$DIST/"

FILES=(
  irsa-doctor-linux-x64 irsa-doctor-linux-arm64
  kubectl-irsa_doctor-linux-amd64.tar.gz kubectl-irsa_doctor-linux-arm64.tar.gz
  "irsa-doctor-$VERSION.tgz" THIRD-PARTY-NOTICES.txt
)
(cd "$DIST" && sha256sum "${FILES[@]}" >SHA256SUMS)

# The krew manifest: {{VERSION}}, {{SHA256 FILE}} and {{RELEASE_URL}}.
node - "$VERSION" "${IRSA_DOCTOR_RELEASE_URL:-}" "$DIST" <<'EOF'
const { readFileSync, writeFileSync } = require('node:fs');
const [version, url, dist] = process.argv.slice(2);
const sums = Object.fromEntries(
  readFileSync(`${dist}/SHA256SUMS`, 'utf8').trim().split('\n').map((line) => line.split(/\s+\*?/).reverse()),
);
let text = readFileSync('examples/krew/irsa-doctor.yaml', 'utf8')
  .replaceAll('{{VERSION}}', version)
  .replace(/\{\{SHA256 ([^}]+)\}\}/g, (_, file) => {
    if (!sums[file]) throw new Error(`examples/krew/irsa-doctor.yaml names ${file}, which is not in SHA256SUMS`);
    return sums[file];
  });
if (url) text = text.replaceAll('{{RELEASE_URL}}', url.replace(/\/$/, ''));
writeFileSync(`${dist}/irsa-doctor.krew.yaml`, text);
if (!url) process.stderr.write('release: IRSA_DOCTOR_RELEASE_URL unset: dist/irsa-doctor.krew.yaml keeps {{RELEASE_URL}}\n');
EOF

(cd "$DIST" && ls -l "${FILES[@]}" SHA256SUMS irsa-doctor.krew.yaml)
