import { defineConfig } from 'vitest/config';

/**
 * The files whose tests also run on the direct path (`CKPT_NO_DAEMON=1`):
 * snapshots, hooks, rollback, crashes and faults. The daemon is on by
 * default, so the whole suite runs with it (project `daemon`); these run a
 * second time without it (project `direct`), so both ways of taking a step
 * stay tested.
 */
const DIRECT = ['test/snapshot.test.ts', 'test/hook.test.ts', 'test/rollback.test.ts', 'test/crash.test.ts', 'test/faults.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores here and in CI: real git and real processes, keep contention low.
    maxWorkers: 2,
    setupFiles: ['test/support/setup.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'daemon', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'direct', include: DIRECT, env: { CKPT_NO_DAEMON: '1' } } },
    ],
  },
});
