# syntax=docker/dockerfile:1
# irsa-doctor image: one self-contained binary, run as non-root, writing nothing.
#   docker build -t irsa-doctor .
#   kubectl run/debug/Job: see examples/ and the README.

# ---- build: Debian (glibc) so the Bun runtime embedded in the binary matches the final stage's libc ----
FROM node:24-bookworm-slim AS build
WORKDIR /src
# npm ci runs the install scripts of the `node` and `bun` devDependencies (allowScripts in package.json):
# that is where the Node 24 and Bun binaries the build uses come from (docs/packaging.md, "Versions").
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# Builds for the architecture of this stage: buildx --platform linux/arm64 gives an arm64 binary.
RUN npm run build && ./dist/irsa-doctor --version

# ---- final: distroless base, not scratch ----
# The binary links only libc, libpthread, libdl, libm and the loader (`ldd dist/irsa-doctor`; glibc symbols
# >= 2.17). distroless/base-debian12 is exactly glibc + CA certificates + /etc/passwd with uid 65532 + /tmp,
# and nothing else: no shell, no package manager. scratch plus those files copied from the build stage would
# save a few MB against a ~115 MB binary, but then we would own the passwd entry, the CA bundle (Bun ships its
# own roots; the system bundle is there for NODE_USE_SYSTEM_CA=1 / private issuers) and glibc updates.
# test/e2e/chroot.test.ts runs the binary in a root holding only those libraries, as uid 65532, to prove this.
# Pin by digest in production (gcr.io/distroless/base-debian12:nonroot@sha256:...).
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /src/dist/irsa-doctor /irsa-doctor
# The AWS SDK's shared-ini loader calls os.homedir() even with explicit credentials, and that throws with no
# HOME and no passwd entry for an arbitrary runAsUser (docs/packaging.md, chroot results). /tmp need not
# be writable: nothing is written there.
ENV HOME=/tmp
# Numeric, so runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
# Least privilege the image is built for, and tested without Docker:
# - the root filesystem can be read-only (readOnlyRootFilesystem: true): the binary writes no file anywhere,
#   not /tmp, not HOME (test/e2e/secrets.test.ts traces every path syscall of every output mode with strace
#   and compares cwd, HOME and TMPDIR before and after);
# - no capability at all and no_new_privs (capabilities: drop: [ALL], allowPrivilegeEscalation: false):
#   test/e2e/chroot.test.ts diagnoses in this image's root, read-only, as 65532 with every capability set empty;
# - --target reads another container only as that container's uid and gid, still with no capability
#   (examples/debug.md, examples/debug-container.json). examples/job.yaml sets all of the above.
ENTRYPOINT ["/irsa-doctor"]
