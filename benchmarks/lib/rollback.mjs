// Method family "rollback": ckpt's rollback of a 10-file and a 1000-file
// step against a temporary index (every file, or only the paths diff-tree
// lists) and isomorphic-git; every iteration verifies the restored files.
import fs from 'node:fs';
import { ckpt, storeObjectsDir } from './ckpt.mjs';
import { assert, g, gText } from './env.mjs';
import { measure } from './measure.mjs';
import { tmpIndexPath } from './temp-index.mjs';

/**
 * Restores `tree` with a temporary index: every file (`-a`), or only the
 * paths diff-tree lists between `fromTree` and `tree`. `objects` is an extra
 * object dir to read the trees from (ckpt's store), or null.
 */
export function gitTempIndexRestore(dir, tree, fromTree, objects) {
  const idx = tmpIndexPath();
  const env = { GIT_INDEX_FILE: idx, ...(objects ? { GIT_ALTERNATE_OBJECT_DIRECTORIES: objects } : {}) };
  try {
    g(dir, ['read-tree', tree], { env });
    if (fromTree) {
      const paths = g(dir, ['diff-tree', '-r', '-z', '--name-only', '--no-renames', fromTree, tree], { env });
      if (paths.length > 0) g(dir, ['checkout-index', '-f', '-z', '--stdin'], { env, input: paths });
    } else {
      g(dir, ['checkout-index', '-a', '-f'], { env });
    }
  } finally {
    fs.rmSync(idx, { force: true });
  }
}

/**
 * Copies two snapshot commits and whatever their trees hold that the
 * repository's HEAD does not (not their history) from ckpt's store into the
 * repository's, as loose objects, which the reset at the end of a size
 * prunes: isomorphic-git reads no alternates. Untimed.
 */
function shareWithRepository(dir, objects, snapshots) {
  if (!objects) return;
  const env = { GIT_ALTERNATE_OBJECT_DIRECTORIES: objects };
  const list = gText(dir, ['rev-list', '--objects', ...snapshots.map((x) => x.tree), '--not', 'HEAD'], { env });
  const pack = g(dir, ['pack-objects', '--stdout', '-q'], { env, input: `${snapshots.map((x) => x.id).join('\n')}\n${list}\n` });
  g(dir, ['unpack-objects', '-q'], { input: pack });
}

/** The rollback cases of one size (`s`: see size.mjs); returns their rows. */
export async function benchRollback(s) {
  const { dir, repo, mut, iso, isoSlow } = s;
  const rows = [];
  // Where ckpt keeps the snapshots' objects, if not in the repository's store.
  const objects = storeObjectsDir(repo);
  for (const n of [10, 1000]) {
    // Each iteration: base snapshot, edit N files, snapshot (the "step"), then
    // the method restores the base; the edited files are verified afterwards.
    const setup = async () => {
      mut.restore();
      s.refreshUserIndex();
      const base = (await ckpt.takeSnapshot(repo, { kind: 'manual', force: true })).snapshot;
      const idx = mut.mutate(n, 5);
      const samples = mut.samples;
      const stepSnap = (await ckpt.takeSnapshot(repo, { kind: 'manual', force: true })).snapshot;
      return { base, step: stepSnap, idx, samples };
    };
    const check = (ctx) => mut.verify(ctx.idx, ctx.samples);
    const methods = [
      { key: 'ckpt', name: 'ckpt rollback (incl. pre-rollback snapshot)', prepare: setup, run: (c) => ckpt.rollback(repo, { target: c.base.id }), check: (c, v) => { assert(v.changes.length === n, `ckpt rolled back ${v.changes.length} files, expected ${n}`); check(c); } },
      { key: 'git-all', name: 'git: temp index read-tree + checkout-index -a -f', prepare: setup, run: (c) => gitTempIndexRestore(dir, c.base.tree, null, objects), check },
      { key: 'git-diff', name: 'git: diff-tree + read-tree + checkout-index paths', prepare: setup, run: (c) => gitTempIndexRestore(dir, c.base.tree, c.step.tree, objects), check },
    ];
    if (iso && (!isoSlow || n === 10)) {
      const isoSetup = async () => {
        const c = await setup();
        shareWithRepository(dir, objects, [c.base, c.step]);
        return c;
      };
      methods.push({ key: 'iso', name: 'isomorphic-git walk(diff) + checkout filepaths', iters: isoSlow ? 1 : undefined, prepare: isoSetup, runTimed: (c) => iso.call('restore', { from: c.step.id, to: c.base.id }), check: (c, v) => { assert(v === n, `isomorphic-git restored ${v} files, expected ${n}`); check(c); } });
    }
    rows.push(...(await measure(`rollback, ${n}-file step`, methods, s.plan.rb, s.plan.budgetMs)));
    mut.restore();
  }
  return rows;
}
