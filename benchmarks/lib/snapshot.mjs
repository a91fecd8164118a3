// Method family "snapshot": ckpt's takeSnapshot against a temporary index
// with git plumbing (fresh, seeded by read-tree, or a copy of the user's
// index), the add -A + write-tree floor and isomorphic-git, with 0, 10 and
// 1000 changed files.
import fs from 'node:fs';
import path from 'node:path';
import { ckpt } from './ckpt.mjs';
import { assert, g, gText } from './env.mjs';
import { measure } from './measure.mjs';
import { tmpIndexPath } from './temp-index.mjs';

/** The obvious alternative: a throwaway index, `add -A`, `write-tree`, `commit-tree`; `seed` is null, 'read-tree' or 'user-index'. */
export function gitTempIndexSnapshot(dir, seed) {
  const idx = tmpIndexPath();
  const env = { GIT_INDEX_FILE: idx };
  try {
    if (seed === 'read-tree') g(dir, ['read-tree', 'HEAD'], { env });
    else if (seed === 'user-index') fs.copyFileSync(path.join(dir, '.git', 'index'), idx);
    g(dir, ['add', '-A'], { env });
    const tree = gText(dir, ['write-tree'], { env });
    return gText(dir, ['commit-tree', tree, '-p', 'HEAD', '-m', 'snapshot'], { env });
  } finally {
    fs.rmSync(idx, { force: true });
  }
}

/**
 * A floor for any snapshot built on `git add -A`: add -A and write-tree into
 * a persistent private index (.git/bench-floor/index, seeded from the user's
 * index), nothing else: no commit, no ref, no check.
 */
export function gitFloorSnapshot(dir) {
  const idx = path.join(dir, '.git', 'bench-floor', 'index');
  if (!fs.existsSync(idx)) {
    fs.mkdirSync(path.dirname(idx), { recursive: true });
    fs.copyFileSync(path.join(dir, '.git', 'index'), idx);
  }
  const env = { GIT_INDEX_FILE: idx };
  g(dir, ['add', '-A'], { env });
  return gText(dir, ['write-tree'], { env });
}

/** The snapshot cases of one size (`s`: see size.mjs); returns their rows. */
export async function benchSnapshot(s) {
  const { dir, repo, mut, iso, isoSlow } = s;
  const rows = [];
  for (const n of [0, 10, 1000]) {
    // Every method starts from: committed state + untracked files, its own
    // state warm (a snapshot of exactly that), then N files edited.
    const before = async (warm) => {
      mut.restore();
      s.refreshUserIndex();
      if (warm) await warm();
      mut.mutate(n);
    };
    const methods = [
      { key: 'ckpt', name: 'ckpt takeSnapshot (warm private index)', prepare: () => before(() => ckpt.takeSnapshot(repo, { kind: 'manual' })), run: () => ckpt.takeSnapshot(repo, { kind: 'manual', force: true }), check: (_, v) => assert(v.created, 'no snapshot recorded') },
    ];
    if (n === 0) {
      methods.push({ key: 'ckpt-noforce', name: 'ckpt takeSnapshot, unchanged → not recorded', prepare: () => before(() => ckpt.takeSnapshot(repo, { kind: 'manual' })), run: () => ckpt.takeSnapshot(repo, { kind: 'manual' }), check: (_, v) => assert(!v.created, 'recorded although unchanged') });
    }
    methods.push(
      { key: 'git-fresh', name: 'git: fresh temp index, add -A+write-tree+commit-tree', prepare: () => before(), run: () => gitTempIndexSnapshot(dir, null) },
      { key: 'git-readtree', name: 'git: temp index seeded by read-tree HEAD', prepare: () => before(), run: () => gitTempIndexSnapshot(dir, 'read-tree') },
      { key: 'git-userindex', name: "git: temp index = copy of user's index", prepare: () => before(), run: () => gitTempIndexSnapshot(dir, 'user-index') },
      { key: 'git-floor', name: 'floor: add -A + write-tree, warm private index', prepare: () => before(() => gitFloorSnapshot(dir)), run: () => gitFloorSnapshot(dir) },
    );
    if (iso && (!isoSlow || n === 10)) {
      methods.push({ key: 'iso', name: 'isomorphic-git statusMatrix+add+commit', iters: isoSlow ? 1 : undefined, prepare: () => before(() => iso.call('snapshot')), runTimed: () => iso.call('snapshot'), check: (_, v) => assert(v.added >= n, `isomorphic-git staged ${v.added} files, expected ≥ ${n}`) });
    }
    rows.push(...(await measure(`snapshot, ${n} changed`, methods, s.plan.snap, s.plan.budgetMs)));
    mut.restore();
  }
  return rows;
}
