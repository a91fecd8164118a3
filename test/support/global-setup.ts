/**
 * Once per test run: bundles the viewer's browser client into
 * dist/view-client.js (scripts/build-client.mjs), so the page the viewer
 * tests load is built from the client's current source even when the rest
 * of the package was not rebuilt; and afterwards checks that the run left
 * nothing of ckpt's in the temp directory (a test that leaves files behind
 * is a defect). Under CI a leftover fails the run; elsewhere other runs may
 * share the temp directory, so it is only reported.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildClient } from '../../scripts/build-client.mjs';

/** Temp entries that tests create: `ckpt-*` (test/support/repo.ts and friends). */
function ckptTempEntries(): Set<string> {
  return new Set(readdirSync(os.tmpdir()).filter((name) => name.startsWith('ckpt-')));
}

export default async function setup(): Promise<() => void> {
  const before = ckptTempEntries();
  await buildClient(path.resolve(import.meta.dirname, '..', '..'));
  return () => {
    const left = [...ckptTempEntries()].filter((name) => !before.has(name));
    if (left.length === 0) return;
    const text = `the tests left ${left.length} entries in ${os.tmpdir()}: ${left.slice(0, 20).join(', ')}${left.length > 20 ? ', …' : ''}`;
    if (!process.env.CI) {
      console.warn(`warning: ${text}`);
      return;
    }
    // vitest reports a throw here but keeps its exit code: set it too.
    console.error(`error: ${text}`);
    process.exitCode = 1;
  };
}
