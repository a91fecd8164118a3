/**
 * Once per test run:
 * - bundles the viewer's browser client into dist/view-client.js
 *   (scripts/build-client.mjs), so the page the viewer tests load is built
 *   from the client's current source even when the rest of the package was
 *   not rebuilt;
 * - gives the run a temp directory of its own (`TMPDIR`, inherited by the
 *   test workers and every process they start) and removes it afterwards.
 *   A `ckpt-*` entry still in it at the end is a test that leaves files
 *   behind, which is a defect: under CI it fails the run, elsewhere it is
 *   reported. Set CKPT_TEST_KEEP_TMP=1 to keep the directory for a post-mortem.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildClient } from '../../scripts/build-client.mjs';

export default async function setup(): Promise<() => void> {
  await buildClient(path.resolve(import.meta.dirname, '..', '..'));
  const outer = process.env.TMPDIR;
  const root = mkdtempSync(path.join(os.tmpdir(), 'ckpt-test-run-'));
  process.env.TMPDIR = root;
  return () => {
    if (outer === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = outer;
    const left = readdirSync(root).filter((name) => name.startsWith('ckpt-'));
    if (process.env.CKPT_TEST_KEEP_TMP === '1') console.warn(`kept the run's temp directory: ${root}`);
    else rmSync(root, { recursive: true, force: true });
    if (left.length === 0) return;
    const text = `the tests left ${left.length} entries in their temp directory: ${left.slice(0, 20).join(', ')}${left.length > 20 ? ', …' : ''}`;
    if (!process.env.CI) {
      console.warn(`warning: ${text}`);
      return;
    }
    // vitest reports a throw here but keeps its exit code: set it instead.
    console.error(`error: ${text}`);
    process.exitCode = 1;
  };
}
