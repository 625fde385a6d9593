import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

/**
 * Two projects. The first runs every test against this machine's build (dist/irsa-doctor). The second runs the
 * end-to-end tests that prove the Linux arm64 build (dist/irsa-doctor-linux-arm64, cross-compiled by
 * `npm test`'s build) under Debian's qemu-user-static with the arm64 glibc of libc6-arm64-cross: the diagnosis of
 * every simulated scenario and the black-hole deadline (sim-scenarios), the image's root under the
 * least-privilege securityContext with in-cluster API access and --target (chroot), the Kubernetes checks over
 * TLS with a private CA (kube-scenarios), the Ink TUI on a pseudo-terminal (tty), and the compile flags
 * (no-autoload). Those are the paths where the arm64 runtime, not the shared TypeScript, could differ: Bun's
 * start-up and payload, TLS, sockets and timers, yoga's WebAssembly, /proc. The rest (unit tests, the fault
 * matrix, secrets, explain) exercises the same JavaScript and is not repeated under a 10-60x slower emulator.
 * It runs after the first (groupOrder), so the emulator's CPU does not slow the native timing tests, and one
 * file at a time.
 */
const QEMU = '/usr/bin/qemu-aarch64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const ARM64_E2E = [
  'test/e2e/sim-scenarios.test.ts',
  'test/e2e/chroot.test.ts',
  'test/e2e/kube-scenarios.test.ts',
  'test/e2e/tty.test.ts',
  'test/e2e/no-autoload.test.ts',
];
const arm64Missing =
  process.arch === 'arm64'
    ? 'this machine is arm64: the first project already runs the arm64 build natively'
    : !existsSync(QEMU) || !existsSync(`${ARM64_SYSROOT}/lib`)
      ? `${QEMU} or ${ARM64_SYSROOT} is missing (apt-get install qemu-user-static libc6-arm64-cross; .ci/run does)`
      : undefined;
if (arm64Missing) console.warn(`vitest: the arm64-qemu project is not run: ${arm64Missing}`);

const alias = { 'react-devtools-core': new URL('./src/stubs/react-devtools-core.ts', import.meta.url).pathname };

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    setupFiles: ['test/setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: process.arch, include: ['test/**/*.test.ts', 'test/**/*.test.tsx'] },
      },
      ...(arm64Missing
        ? []
        : [
            {
              extends: true,
              test: {
                name: 'arm64-qemu',
                include: ARM64_E2E,
                // Hang timers scale with the emulator (test/helpers/binary.ts); so does a test's own limit.
                testTimeout: 150_000,
                // After the native project, and one file at a time: an emulated run takes seconds of CPU, and
                // two of them beside each other on a 2-CPU machine starve each other past the checks' deadlines.
                sequence: { groupOrder: 1 },
                fileParallelism: false,
                env: {
                  IRSA_DOCTOR_BINARY: 'dist/irsa-doctor-linux-arm64',
                  IRSA_DOCTOR_EMULATOR: QEMU,
                  IRSA_DOCTOR_SYSROOT: ARM64_SYSROOT,
                },
              },
            },
          ]),
    ],
  },
  resolve: { alias },
});
