import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IMAGE_BINARY } from '../../scripts/image-root';
import { DOCKERFILE, dockerfileStages, imageRuntime } from '../helpers/dockerfile';

/**
 * No Docker engine here: what can be checked without building is checked on the Dockerfile itself. The contents
 * of the final stage are exactly /rootfs of the build stage, which scripts/image-root.ts writes; the chroot test
 * (test/e2e/chroot.test.ts) runs the least-privilege diagnosis in a root made by the same function from the same
 * binary, with this file's ENV and USER. So the image holds what that test runs, and nothing else.
 */
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  license: string;
};
const stages = dockerfileStages();
const build = stages[0]!;
const final = stages.at(-1)!;

describe('the Dockerfile', () => {
  it('has a build stage on the build platform and a final stage from scratch', () => {
    expect(stages).toHaveLength(2);
    // Never emulated: the build stage runs on the builder's own platform whatever the target.
    expect(build.from).toMatch(/^--platform=\$BUILDPLATFORM \S+ AS build$/);
    expect(final.from).toBe('scratch');
  });

  it('builds for TARGETARCH with Bun and writes the image root with scripts/image-root.ts', () => {
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(build.instructions).toContainEqual({ keyword: 'ARG', args: 'TARGETARCH' });
    const make = runs.find((r) => r.includes('scripts/build.sh'));
    expect(make).toContain('amd64) arch=x64');
    expect(make).toContain('arm64) arch=arm64');
    expect(make).toContain('bash scripts/build.sh "linux-$arch"');
    expect(make).toContain(
      'bun scripts/image-root.ts --binary "dist/irsa-doctor-linux-$arch" --sysroot /sysroot --out /rootfs',
    );
    // The target's glibc is unpacked from Debian's package for TARGETARCH, not run.
    const libc = runs.find((r) => r.includes('libc6'));
    expect(libc).toContain('apt-get download "libc6:$TARGETARCH"');
    expect(libc).toContain('dpkg-deb -x libc6_*.deb /sysroot');
  });

  it('copies only /rootfs into the final stage, and runs nothing there', () => {
    const keywords = final.instructions.map((i) => i.keyword);
    expect(keywords.filter((k) => !['LABEL', 'ENV', 'USER', 'ENTRYPOINT', 'COPY'].includes(k))).toEqual([]);
    expect(final.instructions.filter((i) => i.keyword === 'COPY')).toEqual([
      { keyword: 'COPY', args: '--from=build /rootfs/ /' },
    ]);
    expect(final.instructions).toContainEqual({ keyword: 'ENTRYPOINT', args: `["${IMAGE_BINARY}"]` });
  });

  it('runs as a numeric non-root user with HOME set', () => {
    const { env, user } = imageRuntime(final);
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(env).toEqual({ HOME: '/tmp' });
  });

  it('carries the OCI labels, with the version and licence of package.json', () => {
    const labels = final.instructions
      .filter((i) => i.keyword === 'LABEL')
      .flatMap((i) => [...i.args.matchAll(/([\w.-]+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
    expect(Object.fromEntries(labels)).toMatchObject({
      'org.opencontainers.image.title': 'irsa-doctor',
      'org.opencontainers.image.version': packageJson.version,
      'org.opencontainers.image.licenses': packageJson.license,
      'org.opencontainers.image.base.name': 'scratch',
    });
    expect(labels.find(([key]) => key === 'org.opencontainers.image.description')?.[1]?.length).toBeGreaterThan(20);
  });

  it('says how to pin the build base by digest', () => {
    const text = readFileSync(DOCKERFILE, 'utf8');
    expect(text).toContain('docker buildx imagetools inspect node:24-bookworm-slim');
    expect(text).toContain('--build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:<DIGEST>');
    expect(text).toMatch(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
  });
});
