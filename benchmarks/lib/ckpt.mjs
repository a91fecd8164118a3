// The code under test: a copy of bin/ and dist/ taken when the run starts
// (benchmarks/.work/ckpt-under-test), so a concurrent rebuild does not change
// it midway, and the library loaded from that copy. The benchmark's own
// helpers use the same copy (splitNul and friends), never copies of their own.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, WORK } from './env.mjs';

/** The frozen copy's directory (has bin/ and dist/). Set by {@link freezeUnderTest}. */
export let UNDER_TEST = '';
/** The library (`dist/index.js`) of the frozen copy. Set by {@link freezeUnderTest}. */
export let ckpt = null;

/** Whether dist/ has been built (the library and the CLI bundles). */
export function isBuilt() {
  return fs.existsSync(path.join(ROOT, 'dist', 'index.js')) && fs.existsSync(path.join(ROOT, 'dist', 'cli.js'));
}

/** Copies bin/ and dist/ (without type declarations) to the frozen copy and loads its library. */
export async function freezeUnderTest() {
  const dir = path.join(WORK, 'ckpt-under-test');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true, filter: (s) => !s.includes(`${path.sep}types`) });
  fs.cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  ckpt = await import(pathToFileURL(path.join(dir, 'dist', 'index.js')).href);
  UNDER_TEST = dir;
  return ckpt;
}

/** NUL-separated git output (`-z`) as UTF-8 strings, through ckpt's own `splitNul`. */
export function splitNulText(buf) {
  return ckpt.splitNul(buf).map((b) => b.toString('utf8'));
}

/** The id of the newest snapshot of `repo`'s chain, or null: read through the library, wherever it keeps its refs. */
export async function chainTip(repo) {
  const [newest] = await ckpt.listSteps(repo, { limit: 1, stats: false });
  return newest?.id ?? null;
}

/**
 * ckpt's own object dir (`<common>/ckpt/shadow/objects`, docs/snapshot-format.md)
 * when it has one, else null (an older ckpt wrote its objects into the
 * repository's store). The git alternatives read snapshot trees through it.
 */
export function storeObjectsDir(repo) {
  const dir = path.join(repo.commonDir, 'ckpt', 'shadow', 'objects');
  return fs.existsSync(dir) ? dir : null;
}
