import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    environment: 'node',
    testTimeout: 30_000,
    setupFiles: ['test/setup.ts'],
  },
  resolve: {
    alias: { 'react-devtools-core': new URL('./src/stubs/react-devtools-core.ts', import.meta.url).pathname },
  },
});
