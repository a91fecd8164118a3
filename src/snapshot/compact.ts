/**
 * Compacting ckpt's store (the shadow git dir) after `ckpt gc`: what no ref
 * of the store reaches is deleted at once, with no grace period, because
 * nothing but ckpt writes there and ckpt holds every worktree's lock while it
 * runs (so no snapshot is half-written meanwhile).
 *
 * Kept, besides every chain and its reflog: the index commit each worktree
 * has cached for its next snapshot (state.json); each private index's objects
 * (as a tree written from it: its blobs and cache-tree trees, which a later
 * `git write-tree` trusts) and every object a race record names
 * (`<common>/ckpt/races/<id>/race.json`: bases, attempts' final snapshots,
 * picks), so `race pick` and `race diff` find an attempt's snapshots even
 * after the attempt's chain was pruned (issue 9 item 14). These roots are
 * held by temporary refs `refs/ckpt/gc-keep/*` while git runs.
 *
 * Then {@link adoptBorrowed} copies in what the store reaches only through
 * the user's object store and no ref of the user's keeps alive.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isCkptError } from '../core/errors.js';
import { git } from '../git/exec.js';
import type { Repo } from '../git/repo.js';
import { shadowEnv } from '../git/shadow.js';
import { adoptBorrowed, listStoreRefs, storeBytes, withStoreLock } from '../git/store.js';
import { withWorktreeLock } from './lock.js';
import { readState } from './state.js';
import { isLooseInStore } from '../git/loose.js';

const KEEP = 'refs/ckpt/gc-keep/';

/** What {@link compactStore} did. */
export interface CompactResult {
  /** Bytes of ckpt's object dir on disk before and after. */
  bytesBefore: number;
  bytesAfter: number;
  /** Objects copied in from the user's store ({@link adoptBorrowed}). */
  adopted: number;
}

/**
 * Repacks ckpt's store (`git repack -a -d -l`: unreachable packed objects
 * go), prunes its unreachable loose objects (`git prune --expire=now`) and
 * adopts borrowed objects, holding every worktree's lock (and, around the
 * repack and prune, the store's `packs` lock, which the daemon's fold of its
 * step packs holds: git/pack-fold.ts).
 *
 * @param lockWaitMs how long to wait for each lock (default 30000 ms).
 * @throws CkptError `LOCKED`, `GIT_FAILED`.
 */
export async function compactStore(repo: Repo, lockWaitMs = 30_000): Promise<CompactResult> {
  const wtDir = path.join(repo.commonDir, 'ckpt', 'wt');
  const ids = existsSync(wtDir) ? readdirSync(wtDir).sort() : [];
  const run = async (): Promise<CompactResult> => {
    const bytesBefore = storeBytes(repo);
    const env = shadowEnv(repo);
    const roots: string[] = [];
    for (const id of ids) {
      const index = path.join(wtDir, id, 'index');
      if (!existsSync(index)) continue;
      const res = await git(['write-tree', '--missing-ok'], { cwd: repo.worktree, env: shadowEnv(repo, index), okCodes: [0, 128] });
      if (res.exitCode === 0) roots.push(res.stdout.toString('utf8').trim());
    }
    // The index commit each worktree caches for its next snapshot: no ref
    // names it until that snapshot is taken (issue 9 walk: pruned here, it
    // broke the next snapshot of another worktree's chain).
    for (const id of ids) {
      const cached = readState({ ...repo, id, stateDir: path.join(wtDir, id) }).indexCommit;
      if (cached && isLooseInStore(repo, cached)) roots.push(cached);
    }
    roots.push(...(await raceObjects(repo)));
    const lines = [...new Set(roots)].map((oid, i) => `update ${KEEP}${i} ${oid}\n`).join('');
    await clearKeepRefs(repo);
    if (lines) await git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '--stdin'], { cwd: repo.worktree, env, input: lines });
    try {
      // The store's `packs` lock too: the daemon's fold of its step packs (git/pack-fold.ts) never runs beside the repack.
      await withStoreLock(repo, 'packs', async () => {
        await git(['-c', 'pack.writeBitmaps=false', '-c', 'repack.writeBitmaps=false', 'repack', '-a', '-d', '-l', '-q'], { cwd: repo.worktree, env, timeoutMs: 600_000 });
        await git(['prune', '--expire=now'], { cwd: repo.worktree, env, timeoutMs: 600_000 });
      }, lockWaitMs);
      const adopted = await adoptBorrowed(repo);
      return { bytesBefore, bytesAfter: storeBytes(repo), adopted };
    } finally {
      await clearKeepRefs(repo);
    }
  };
  // Every worktree's lock, in a fixed order (no deadlock with another gc).
  const lockAll = (i: number): Promise<CompactResult> => {
    if (i >= ids.length) return run();
    const id = ids[i]!;
    const r: Repo = { ...repo, id, stateDir: path.join(wtDir, id) };
    return withWorktreeLock(r, () => lockAll(i + 1), { waitMs: lockWaitMs });
  };
  return lockAll(0);
}

async function clearKeepRefs(repo: Repo): Promise<void> {
  const refs = await listStoreRefs(repo, KEEP);
  if (refs.length === 0) return;
  await git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '--stdin'], { cwd: repo.worktree, env: shadowEnv(repo), input: refs.map((r) => `delete ${r.ref}\n`).join('') });
}

/**
 * Every object id a race record names that ckpt's store can read (any
 * 40/64-hex string value in `race.json`: bases, snapshots, finals, picks).
 */
async function raceObjects(repo: Repo): Promise<string[]> {
  const dir = path.join(repo.commonDir, 'ckpt', 'races');
  if (!existsSync(dir)) return [];
  const found = new Set<string>();
  const len = repo.zeroOid.length;
  for (const id of readdirSync(dir)) {
    let text: string;
    try {
      text = readFileSync(path.join(dir, id, 'race.json'), 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/"([0-9a-f]{40}|[0-9a-f]{64})"/g)) if (m[1]!.length === len) found.add(m[1]!);
  }
  if (found.size === 0) return [];
  const list = [...found];
  const res = await git(['cat-file', '--batch-check=%(objectname) %(objecttype)'], { cwd: repo.worktree, env: shadowEnv(repo), input: list.join('\n') + '\n' }).catch((err: unknown) => {
    if (isCkptError(err, 'GIT_FAILED')) return null;
    throw err;
  });
  if (!res) return [];
  return res.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => / (commit|tree|blob|tag)$/.test(l))
    .map((l) => l.slice(0, len));
}
