/**
 * Once per test run (vitest calls it once per project: vitest.config.ts has
 * two, `daemon` and `direct`; the first call does the work, the others
 * return at once):
 * - bundles the viewer's browser client into dist/view-client.js
 *   (scripts/build-client.mjs), so the page the viewer tests load is built
 *   from the client's current source even when the rest of the package was
 *   not rebuilt;
 * - gives the run a temp directory of its own (`TMPDIR`, inherited by the
 *   test workers and every process they start) and removes it afterwards.
 *   A `ckpt-*` entry still in it at the end is a test that leaves files
 *   behind, which is a defect: under CI it fails the run, elsewhere it is
 *   reported. Set CKPT_TEST_KEEP_TMP=1 to keep the directory for a post-mortem;
 * - at the end, ends every ckpt daemon the run left running (test/support/
 *   daemons.ts: a daemon of a repository the tests removed stops by itself
 *   within about a second, and is waited for): one still running is a test
 *   that does not stop what it started, a defect too (under CI it fails the run).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildClient } from '../../scripts/build-client.mjs';
import { counted } from '../../src/core/plural.js';
import { endDaemonsOfRun } from './daemons.js';

export default async function setup(): Promise<() => Promise<void>> {
  // Each project loads this module afresh: the run's directory, once made, is the mark.
  if (process.env.CKPT_TEST_RUN_ROOT) return async () => undefined;
  await buildClient(path.resolve(import.meta.dirname, '..', '..'));
  const outer = process.env.TMPDIR;
  const root = mkdtempSync(path.join(os.tmpdir(), 'ckpt-test-run-'));
  process.env.TMPDIR = root;
  process.env.CKPT_TEST_RUN_ROOT = root;
  return async () => {
    delete process.env.CKPT_TEST_RUN_ROOT;
    if (outer === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = outer;
    const problems: string[] = [];
    const daemons = await endDaemonsOfRun(root);
    if (daemons.length > 0) problems.push(`the tests left ${counted(daemons.length, 'ckpt daemon')} running (ended now): ${daemons.join('; ')}`);
    const left = readdirSync(root).filter((name) => name.startsWith('ckpt-'));
    if (process.env.CKPT_TEST_KEEP_TMP === '1') console.warn(`kept the run's temp directory: ${root}`);
    else rmSync(root, { recursive: true, force: true });
    if (left.length > 0) problems.push(`the tests left ${counted(left.length, 'entry', 'entries')} in their temp directory: ${left.slice(0, 20).join(', ')}${left.length > 20 ? ', …' : ''}`);
    if (problems.length === 0) return;
    if (!process.env.CI) {
      for (const p of problems) console.warn(`warning: ${p}`);
      return;
    }
    // vitest reports a throw here but keeps its exit code: set it instead.
    for (const p of problems) console.error(`error: ${p}`);
    process.exitCode = 1;
  };
}
