import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Integration tests share one Postgres cluster and one Kafka broker; two workers keep a
    // two-core machine busy without starving the servers.
    maxWorkers: 2,
  },
});
