/**
 * The in-process tree diff (git/tree-diff.ts `diffLooseTrees`) against
 * `git diff-tree -r --raw --no-renames` on the same pairs of trees: random
 * trees over names that sort around a directory's implicit `/` (`a`, `a.b`,
 * `a-b`, `a0`, `a/x`), file ↔ directory swaps, symlinks, gitlinks, exec
 * bits and names that are not ASCII; the same entries in the same order.
 * A tree that is not loose (packed) is left to git. The daemon's diff of
 * its own trees (snapshot/incremental.ts `diffTreesIn`, and asked through
 * its socket as a rollback asks it) gives the same.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRepo } from '../src/git/repo.js';
import { diffTreesIn, IncrementalContext } from '../src/snapshot/incremental.js';
import { diffLooseTrees, diffTrees, gitlinkPaths, looseGitlinks, parseRawDiff, EMPTY_TREE } from '../src/git/tree-diff.js';
import { daemonReader } from '../src/watch/daemon-reader.js';
import { startTestDaemon, stopTestDaemons } from './support/daemon.js';
import { makeRepo } from './support/repo.js';

afterEach(() => stopTestDaemons());

const NAMES = ['a', 'a.b', 'a-b', 'a0', 'a/x', 'a/y', 'a/b/c', 'a/b.c', 'a.b/x', 'b', 'b/a', 'b/a/z', 'c c', 'é', 'é/n', 'z', 'z/z/z'];
const MODES = ['100644', '100755', '120000', '160000'];

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('tree diff in process', () => {
  it('gives what git diff-tree gives, in its order, for random pairs of trees', async () => {
    const dir = makeRepo({ 'seed.txt': 'x\n' });
    const g = (args: string[], input?: string, env: Record<string, string> = {}): string => execFileSync('git', args, { cwd: dir, input, encoding: 'utf8', env: { ...process.env, ...env } });
    const blobs = ['one\n', 'two\n', 'three\n', 'target/of/link'].map((c) => g(['hash-object', '-w', '--stdin'], c).trim());
    const index = path.join(dir, '.git', 'tmp-index');
    const tree = (r: () => number): string => {
      const chosen: string[] = [];
      for (const n of NAMES) {
        if (r() < 0.45) continue;
        if (chosen.some((c) => c.startsWith(n + '/') || n.startsWith(c + '/'))) continue;
        chosen.push(n);
      }
      const lines = chosen.map((n) => `${MODES[Math.floor(r() * (r() < 0.7 ? 2 : 4))]} ${blobs[Math.floor(r() * blobs.length)]}\t${n}`);
      execFileSync('rm', ['-f', index]);
      if (lines.length > 0) g(['update-index', '--index-info'], lines.join('\n') + '\n', { GIT_INDEX_FILE: index });
      return g(['write-tree'], undefined, { GIT_INDEX_FILE: index }).trim();
    };
    const repo = await openRepo(dir);
    const r = rng(11);
    const trees = [EMPTY_TREE.sha1, ...Array.from({ length: 40 }, () => tree(r))];
    let differing = 0;
    // The daemon's diff (its context's trees, read through its own git) is compared on the same pairs.
    const ctx = await IncrementalContext.open(repo);
    try {
      for (let k = 0; k < 300; k++) {
        const a = trees[Math.floor(r() * trees.length)]!;
        const b = trees[Math.floor(r() * trees.length)]!;
        const byGit = parseRawDiff(execFileSync('git', ['diff-tree', '-r', '-z', '--no-renames', '--raw', '--full-index', a, b], { cwd: dir }));
        const ours = diffLooseTrees(repo, a, b);
        expect(ours, `${a} → ${b}`).toEqual(byGit);
        expect(await diffTreesIn(ctx, a, b), `daemon: ${a} → ${b}`).toEqual(byGit);
        if (byGit.length > 0) differing++;
      }
    } finally {
      ctx.close();
    }
    expect(differing).toBeGreaterThan(200);
    // The status letters seen include a type change (file ↔ symlink ↔ gitlink).
    const all = trees.flatMap((a) => diffLooseTrees(repo, trees[1]!, a)!);
    expect(new Set(all.map((c) => c.status))).toEqual(new Set(['A', 'D', 'M', 'T']));

    // Packed trees are left to git, which gives the same answer.
    const [x, y] = [trees[3]!, trees[4]!];
    const before = diffLooseTrees(repo, x, y);
    g(['update-ref', 'refs/keep/x', g(['commit-tree', x, '-m', 'x']).trim()]);
    g(['update-ref', 'refs/keep/y', g(['commit-tree', y, '-m', 'y']).trim()]);
    g(['gc', '-q', '--prune=now']);
    expect(diffLooseTrees(repo, x, y)).toBeUndefined();
    expect(await diffTrees(repo, x, y)).toEqual(before);
    // The daemon answers a restore's plan for packed trees from its own (a reader's diff); without a daemon, nothing.
    const reader = daemonReader(repo, {})!;
    expect(await reader.diff!(x, y)).toBeNull();
    startTestDaemon(dir);
    expect(await reader.diff!(x, y)).toEqual(before);
    expect(await reader.diff!(x, EMPTY_TREE.sha1)).toEqual(parseRawDiff(execFileSync('git', ['diff-tree', '-r', '-z', '--no-renames', '--raw', '--full-index', x, EMPTY_TREE.sha1], { cwd: dir })));
  });

  it("lists a tree's gitlinks as git ls-tree -r does, from loose trees in process and from packed ones through git", async () => {
    const dir = makeRepo({ 'seed.txt': 'x\n' });
    const g = (args: string[], input?: string, env: Record<string, string> = {}): string => execFileSync('git', args, { cwd: dir, input, encoding: 'utf8', env: { ...process.env, ...env } });
    const blob = g(['hash-object', '-w', '--stdin'], 'one\n').trim();
    const commit = g(['rev-parse', 'HEAD']).trim();
    const index = path.join(dir, '.git', 'tmp-index');
    const r = rng(5);
    const trees: string[] = [];
    for (let k = 0; k < 20; k++) {
      const chosen: string[] = [];
      for (const n of NAMES) if (r() >= 0.4 && !chosen.some((c) => c.startsWith(n + '/') || n.startsWith(c + '/'))) chosen.push(n);
      const lines = chosen.map((n) => (r() < 0.4 ? `160000 ${commit}\t${n}` : `100644 ${blob}\t${n}`));
      execFileSync('rm', ['-f', index]);
      if (lines.length > 0) g(['update-index', '--index-info'], lines.join('\n') + '\n', { GIT_INDEX_FILE: index });
      trees.push(g(['write-tree'], undefined, { GIT_INDEX_FILE: index }).trim());
    }
    const byGit = (t: string): string[] =>
      execFileSync('git', ['ls-tree', '-r', '-z', '--full-tree', t], { cwd: dir })
        .toString('utf8')
        .split('\0')
        .filter((rec) => rec.startsWith('160000 '))
        .map((rec) => rec.slice(rec.indexOf('\t') + 1));
    const repo = await openRepo(dir);
    let withLinks = 0;
    for (const t of trees) {
      const want = byGit(t);
      if (want.length > 1) withLinks++;
      expect(looseGitlinks(repo, t), t).toEqual(want);
      expect(await gitlinkPaths(repo, t), t).toEqual(want);
    }
    expect(withLinks).toBeGreaterThan(10);
    expect(await gitlinkPaths(repo, EMPTY_TREE.sha1)).toEqual([]);
    // Packed, they are listed by git: the same answer.
    trees.forEach((t, k) => g(['update-ref', `refs/keep/${k}`, g(['commit-tree', t, '-m', 'x']).trim()]));
    g(['gc', '-q', '--prune=now']);
    for (const t of trees) {
      expect(looseGitlinks(repo, t)).toBeUndefined();
      expect(await gitlinkPaths(repo, t), t).toEqual(byGit(t));
    }
  });
});
