/**
 * The number of packs in ckpt's store kept bounded: each step the daemon
 * takes writes one small pack (snapshot/object-writer.ts), and git looks an
 * object up pack by pack, so they are folded together in the background,
 * off the step's path, the way `git repack --geometric=2` keeps a geometric
 * progression of pack sizes (git-repack(1)): the smallest packs, up to the
 * first that is at least twice as large as everything below it, are
 * rewritten as one (`git pack-objects --stdin-packs`: every object of those
 * packs, whatever reaches it; no `--local`, so an object the user's store
 * also holds keeps ckpt's own copy). So after a fold the store holds at most
 * one pack per doubling of size, about log2(store bytes / step bytes).
 *
 * `git repack --geometric` itself is not used: git 2.39 counts the packs of
 * the alternates (the user's store) in its progression.
 *
 * Deleting is checked at the point of destruction: a folded pack is removed
 * only once the new pack is in place and its index lists every object of
 * the folded pack's index. Packs with a `.keep` or `.promisor` file are never
 * touched. Runs under the store's `packs` lock, which `ckpt gc`'s
 * compaction (snapshot/compact.ts) holds too; a step never waits for it (a
 * step's new pack is not among those a running fold listed).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { CkptError, isCkptError } from '../core/errors.js';
import { git } from './exec.js';
import { indexedObjects } from './pack.js';
import type { Repo } from './repo-type.js';
import { shadowEnv, shadowObjectsDir } from './shadow.js';
import { withStoreLock } from './store.js';

/** Packs in ckpt's store from which a fold is tried ({@link foldPacks}'s default). */
export const FOLD_AT_PACKS = 8;

/** What {@link foldPacks} did. */
export interface FoldResult {
  /** Packs rewritten as one and removed. */
  folded: number;
  /** The new pack's name (`pack-<name>.pack`). */
  into: string;
  /** Packs in the store afterwards. */
  packs: number;
}

/** One pack of the store: its name (`pack-<name>`) and size in bytes. */
interface PackFile {
  name: string;
  bytes: number;
}

/** The packs of ckpt's store that a fold may rewrite: an index and its pack, no `.keep`, no `.promisor`. */
export function storePacks(repo: Repo): PackFile[] {
  const dir = path.join(shadowObjectsDir(repo), 'pack');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const have = new Set(names);
  const out: PackFile[] = [];
  for (const n of names) {
    const m = /^pack-([0-9a-f]{40}|[0-9a-f]{64})\.idx$/.exec(n);
    if (!m) continue;
    const base = `pack-${m[1]}`;
    if (!have.has(`${base}.pack`) || have.has(`${base}.keep`) || have.has(`${base}.promisor`)) continue;
    try {
      out.push({ name: m[1]!, bytes: statSync(path.join(dir, `${base}.pack`)).size });
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/**
 * The packs to fold: the smallest ones, up to and including the last that
 * breaks the doubling of sizes, then every next one smaller than twice the
 * folded total (git-repack(1), `--geometric=2`). Empty when fewer than two.
 */
export function packsToFold(packs: readonly PackFile[]): PackFile[] {
  const s = [...packs].sort((a, b) => a.bytes - b.bytes || a.name.localeCompare(b.name));
  let split = 0;
  for (let i = s.length - 1; i > 0; i--) {
    if (s[i]!.bytes < 2 * s[i - 1]!.bytes) {
      split = i + 1;
      break;
    }
  }
  let total = s.slice(0, split).reduce((a, p) => a + p.bytes, 0);
  while (split > 0 && split < s.length && s[split]!.bytes < 2 * total) total += s[split++]!.bytes;
  return split >= 2 ? s.slice(0, split) : [];
}

/**
 * Folds the small packs of ckpt's store into one when it holds at least
 * `atPacks` packs (see the module's comment). For a long-lived process (the
 * daemon), off a step's path.
 *
 * @returns what was folded, or null when nothing was (too few packs, or the
 *   `packs` lock is held: `ckpt gc` compacts the store, or a fold runs).
 * @throws CkptError `GIT_FAILED` (`git pack-objects` failed, or its pack
 *   lacks an object of a pack it folded: then nothing was removed).
 */
export async function foldPacks(repo: Repo, atPacks = FOLD_AT_PACKS): Promise<FoldResult | null> {
  if (storePacks(repo).length < atPacks) return null;
  try {
    return await withStoreLock(repo, 'packs', () => foldLocked(repo), 0);
  } catch (err) {
    if (isCkptError(err, 'LOCKED')) return null;
    throw err;
  }
}

async function foldLocked(repo: Repo): Promise<FoldResult | null> {
  const fold = packsToFold(storePacks(repo));
  if (fold.length < 2) return null;
  const dir = path.join(shadowObjectsDir(repo), 'pack');
  const format = repo.objectFormat === 'sha256' ? 'sha256' : 'sha1';
  const res = await git(['-c', 'pack.writeBitmaps=false', 'pack-objects', '--stdin-packs', '-q', path.join(dir, 'pack')], {
    cwd: repo.worktree,
    env: shadowEnv(repo),
    input: fold.map((p) => `pack-${p.name}.pack`).join('\n') + '\n',
    timeoutMs: 600_000,
  });
  const into = res.stdout.toString('utf8').trim();
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(into)) throw new CkptError('GIT_FAILED', `git pack-objects --stdin-packs named no pack: ${JSON.stringify(into.slice(0, 100))}`);
  const kept = indexedObjects(readFileSync(path.join(dir, `pack-${into}.idx`)), format);
  if (!kept || !existsSync(path.join(dir, `pack-${into}.pack`))) throw new CkptError('GIT_FAILED', `the folded pack pack-${into} cannot be read back; no pack was removed`);
  const have = new Set(kept);
  // The point of destruction: each folded pack goes only if the new one holds every object it lists.
  for (const p of fold) {
    if (p.name === into) continue;
    const listed = indexedObjects(readFileSync(path.join(dir, `pack-${p.name}.idx`)), format);
    if (!listed || listed.some((o) => !have.has(o))) {
      throw new CkptError('GIT_FAILED', `the folded pack pack-${into} lacks objects of pack-${p.name}; no pack was removed`, { data: { pack: p.name } });
    }
  }
  let folded = 0;
  for (const p of fold) {
    if (p.name === into) continue;
    // The index first: git stops finding the pack before its data goes. Off the event loop (libuv's
    // threads): freeing a pack's blocks waits on the file system's journal, and the daemon's hooks
    // waited behind it (a profile of 80 hooks at 10k files had ~0.5 s in this loop's unlinkSync).
    for (const ext of ['.idx', '.pack', '.rev']) {
      try {
        await unlink(path.join(dir, `pack-${p.name}${ext}`));
      } catch {
        // gone already (or no .rev)
      }
    }
    folded++;
  }
  return { folded, into, packs: storePacks(repo).length };
}
