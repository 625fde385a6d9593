# syntax=docker/dockerfile:1
# irsa-doctor image, linux/amd64 and linux/arm64: the self-contained binary and the glibc it links, nothing else;
# runs as non-root and writes nothing.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t <REGISTRY>/irsa-doctor:0.1.0 --push .
#
# No stage emulates the target: the build stage runs on the builder's own platform (--platform=$BUILDPLATFORM),
# Bun cross-compiles for TARGETARCH, and the target's glibc is Debian's libc6 package for TARGETARCH, unpacked,
# never run. An arm64 image therefore builds on an amd64 machine without QEMU or binfmt.
#
# Pin the build base by digest in production: the digest of the multi-platform index, from
#   docker buildx imagetools inspect node:24-bookworm-slim
# then  docker buildx build --build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:<DIGEST> ...
# (or write it into the ARG below; Dependabot and Renovate keep such pins current). The final stage is
# `scratch`: there is no base image in what ships, so nothing else to pin.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: Debian bookworm (glibc 2.36), on the builder's platform ----
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
ARG TARGETARCH
WORKDIR /src
# npm ci runs the install scripts of the `node` and `bun` devDependencies (allowScripts in package.json):
# that is where the Node 24 and Bun binaries the build uses come from (docs/packaging.md, "Versions").
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The target's glibc, from Debian (with its security updates): the libc6 package of TARGETARCH, unpacked.
RUN if [ "$TARGETARCH" != "$(dpkg --print-architecture)" ]; then dpkg --add-architecture "$TARGETARCH"; fi \
 && apt-get update \
 && cd /tmp && apt-get download "libc6:$TARGETARCH" \
 && dpkg-deb -x libc6_*.deb /sysroot \
 && rm -rf /var/lib/apt/lists/* /tmp/libc6_*.deb
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# The binary for TARGETARCH (the Bun runtime it embeds is the one package-lock.json pins: scripts/build.sh),
# then the image's root: that binary, its ELF interpreter and the libraries it links, nothing else
# (scripts/image-root.ts; test/e2e/chroot.test.ts runs the diagnosis in a root made by the same code).
RUN case "$TARGETARCH" in amd64) arch=x64 ;; arm64) arch=arm64 ;; *) echo "no build for $TARGETARCH" >&2; exit 1 ;; esac \
 && bash scripts/build.sh "linux-$arch" \
 && if [ "$TARGETARCH" = "$(dpkg --print-architecture)" ]; then "dist/irsa-doctor-linux-$arch" --version; fi \
 && node_modules/.bin/bun scripts/image-root.ts --binary "dist/irsa-doctor-linux-$arch" --sysroot /sysroot --out /rootfs

# ---- final: scratch + /rootfs ----
# The binary links only libc, libpthread, libdl and libm and the loader (glibc symbols >= 2.17; `ldd`). Not
# distroless/base: its libssl, openssl and tzdata are not used; its CA bundle neither (Bun carries its own
# roots, and the pod's API CA comes from the ServiceAccount mount); its passwd entry is not needed with a
# numeric USER. glibc 2.34+ has the files and dns NSS modules built in, so name resolution needs no more files.
FROM scratch
LABEL org.opencontainers.image.title="irsa-doctor" \
      org.opencontainers.image.description="Runs inside an EKS pod and tells why it cannot get its AWS role (IRSA or Pod Identity)." \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="scratch"
COPY --from=build /rootfs/ /
# The AWS SDK's shared-ini loader calls os.homedir() even with explicit credentials, and that throws with no
# HOME and no passwd entry for an arbitrary runAsUser (docs/packaging.md, chroot results). /tmp need not
# exist: nothing is written there.
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
