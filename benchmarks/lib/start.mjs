// The preamble every benchmark entry runs before it measures: hermetic git,
// the scratch directory, the built dist/ checked and frozen, the machine.
import fs from 'node:fs';
import path from 'node:path';
import { freezeUnderTest, isBuilt } from './ckpt.mjs';
import { WORK, useHermeticGit } from './env.mjs';
import { machineInfo } from './report.mjs';

/**
 * Puts this process into the hermetic git state, creates benchmarks/.work/tmp,
 * exits 1 when dist/ is not built, freezes the code under test (a concurrent
 * rebuild does not change it midway) and reads the machine.
 * Resolves to `{ machine, startedAt }` (machineInfo()'s shape, a Date).
 */
export async function startRun() {
  useHermeticGit();
  fs.mkdirSync(path.join(WORK, 'tmp'), { recursive: true });
  if (!isBuilt()) {
    console.error('dist/ is missing: run `node scripts/build.mjs --no-types` first');
    process.exit(1);
  }
  await freezeUnderTest();
  return { machine: machineInfo(), startedAt: new Date() };
}
