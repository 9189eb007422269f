import { globSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Two projects over the same 340 files. Unit tests that leave no state behind share one worker per
// core without isolation (`shared-worker`): re-importing the modules for every file was most of
// their CPU time. Everything else runs isolated as before (`isolated`). A unit test file belongs in
// NEEDS_ISOLATION when it changes module state another file could see: vi.mock / vi.doMock (the
// mocked module stays mocked for the next file), vi.useFakeTimers, vi.stubGlobal, or a
// process-global change it does not undo.
const NEEDS_ISOLATION = [
  // vi.mock of stream/kafka/admin.ts: other files in the worker would get the mock.
  'test/unit/caught-up-holders.test.ts',
  // vi.mock of stream/kafka/admin.ts and consumer.ts, and fake timers.
  'test/unit/read-to-end-stall.test.ts',
];

const root = fileURLToPath(new URL('.', import.meta.url));
const SHARED_WORKER = globSync('test/unit/**/*.test.ts', { cwd: root })
  .map((file) => file.split('\\').join('/'))
  .filter((file) => !NEEDS_ISOLATION.includes(file))
  .sort();

const ALL_TESTS = ['**/*.test.ts'];
const ALWAYS_EXCLUDED = ['node_modules/**'];

// The JSON report is what .ci/run reads to print its `N passed, N failed` line; it covers both projects.
export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: '.reports/vitest.json' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'shared-worker', include: SHARED_WORKER, exclude: ALWAYS_EXCLUDED, isolate: false },
      },
      {
        extends: true,
        test: { name: 'isolated', include: ALL_TESTS, exclude: [...ALWAYS_EXCLUDED, ...SHARED_WORKER], isolate: true },
      },
    ],
  },
});
