import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Two projects over the same files. Unit tests that leave no state behind share one worker without
// isolation (`shared-worker`): re-importing the modules for every file was most of their CPU time.
// Everything else runs isolated as before (`isolated`). A unit file runs isolated when it changes module
// state another file could see: vi.mock / vi.doMock (the mocked module stays mocked for the next file,
// and a file mocking a module an earlier file loaded gets the real one), vi.useFakeTimers, vi.stubGlobal.
// Found by reading each file, so a new one is placed without a list to keep (day-span-flags.test.ts's
// counted parser was not counted in the shared worker). Env stubs are undone by the files (unstubAllEnvs).
const CHANGES_MODULE_STATE = /\bvi\.(?:mock|doMock|useFakeTimers|stubGlobal)\(/;

const root = fileURLToPath(new URL('.', import.meta.url));
const UNIT_FILES = globSync('test/unit/**/*.test.ts', { cwd: root }).map((file) => file.split('\\').join('/')).sort();
const NEEDS_ISOLATION = UNIT_FILES.filter((file) => CHANGES_MODULE_STATE.test(readFileSync(join(root, file), 'utf8')));
const SHARED_WORKER = UNIT_FILES.filter((file) => !NEEDS_ISOLATION.includes(file));

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
